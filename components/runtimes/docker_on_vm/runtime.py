"""``DockerOnVmRuntime``: each system as a compose project on the cloud's VMs, started by cloud-init.

The runtime decides what runs (services, the on-VM auth gateway, the split
of every value into user data or the runtime secret, the compose project);
the cloud decides where (data stores, secret store and how a VM reads it,
VMs, load balancer). Any cloud offering ``VmCloud`` gets the same runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pulumi
import pulumi_random as random

from components import gpu_allocation, nginx
from components.database_setup import with_setup_jobs
from components.edge import restricted
from components.endpoints import SystemRefs, boot_secrets, is_sensitive, resolve
from components.hardening import shipped_logs
from components.htpasswd import htpasswd_line
from components.platform import ContainerCredentials, RouteTarget, StackSettings, StateDisk, VmGroup
from components.runtimes.docker_on_vm import cloud_init, egress
from components.runtimes.docker_on_vm.layout import vm_layout
from components.secrets import admin_passwords, system_secrets
from components.specs import (
    FileSpec,
    HealthCheckSpec,
    HostMountSpec,
    ResourcesSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
    placeholders,
)

GATEWAY_FIRST_PORT = 8081


def uses_buckets(svc: ServiceSpec) -> bool:
    """True when a service's environment or files name one of the system's buckets, or it reads objects with the
    system's credentials (a model pack in S3 or GCS)."""
    return bool(svc.reads_objects) or any(kind == "bucket" for kind, _ in svc.store_refs())


def with_credentials(svc: ServiceSpec, credentials: ContainerCredentials) -> ServiceSpec:
    """``svc`` with the credential path mounted and its SDKs pointed at it."""
    return svc.model_copy(
        update={
            "env": {**svc.env, **credentials.env},
            "files": (*svc.files, *(FileSpec(path=p, content=c) for p, c in credentials.files.items())),
            "host_mounts": (
                *svc.host_mounts,
                HostMountSpec(host_path=credentials.host_dir, mount_path=credentials.mount_path),
            ),
        }
    )


def on_one_vm(system: str, services: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    """``services`` with their GPUs assigned by device id within the VM, when several of them use GPUs.

    The cloud picks a machine with as many GPUs as the services ask for in all (``gpu_catalog.needs``), each
    with the largest ``min_vram_gb`` asked, so the allocator gives each service its own cards; without it Docker
    hands every service the VM's first GPU. One GPU service keeps a plain count (it gets the first cards anyway).
    """
    wanted = gpu_allocation.demands(system, services, per_replica=False)
    if len({d.service for d in wanted}) < 2:
        return list(services)
    count, vram = sum(d.count for d in wanted), max(d.vram_gb for d in wanted)
    placed = gpu_allocation.per_service(gpu_allocation.allocate(wanted, count, vram, "GPU"))
    return [
        s.model_copy(update={"gpu": s.gpu.model_copy(update={"device_ids": placed[(system, s.name)]})})
        if s.gpu is not None and (system, s.name) in placed
        else s
        for s in services
    ]


class VmSystem(Protocol):
    """One system's share of a VM cloud."""

    @property
    def resource(self) -> pulumi.Resource:
        """The component that groups the system's resources (the parent of what the runtime adds)."""
        ...

    def add_data_stores(self, spec: SystemSpec, refs: SystemRefs) -> list[pulumi.Resource]: ...

    def store_secret(self, document: pulumi.Output[str]) -> tuple[pulumi.Output[str], pulumi.Resource]: ...

    def fetch_command(self, secret_id: str) -> tuple[str, str]: ...

    def container_credentials(self) -> ContainerCredentials | None:
        """Credentials of the system's own for the services that use its buckets (None: they need none)."""
        ...

    def state_disk(self, volumes: Sequence[VolumeSpec]) -> StateDisk:
        """The system's state disk (its own resource, encrypted, backed up, outliving every VM) for ``volumes``."""
        ...

    def run(
        self, groups: Sequence[VmGroup], targets: Sequence[RouteTarget], after: Sequence[pulumi.Resource]
    ) -> list[str]:
        """The VMs of each group, reached from the load balancer on the targets of the group's routes."""
        ...


class VmCloud(Protocol):
    """A cloud that runs systems on VMs from user data (AWS, GCP)."""

    @property
    def backend_tls(self) -> bool:
        """True when the cloud's load balancer speaks TLS to the VMs: every route then ends at the gateway."""
        ...

    @property
    def trusted_proxies(self) -> Sequence[pulumi.Input[str]]:
        """Addresses (CIDRs) of the load balancer's hop to the VMs and of what it appends to ``X-Forwarded-For``:
        the gateway takes the client's address from that header on connections from these only."""
        ...

    def system(self, spec: SystemSpec) -> VmSystem: ...

    def finish(self) -> None:
        """What the cloud can only create once every system is known (e.g. GCP's URL map)."""
        ...

    def machine_choices(self) -> dict[str, dict[str, object]]: ...


def gateway_service(routes: Sequence[cloud_init.GatewayRoute], tls: bool = False) -> ServiceSpec:
    """The on-VM nginx that asks for basic auth before services without a login of their own; with ``tls`` its
    listeners speak only TLS, so its probe does too (its own boot-time certificate: not verified, as the load
    balancer does not; nginx answers plain HTTP on a TLS port with 400)."""
    url = f"{'https' if tls else 'http'}://127.0.0.1:{routes[0].listen_port}/healthz"
    insecure = ("--no-check-certificate",) if tls else ()
    return ServiceSpec(
        name="auth-gateway",
        image=cloud_init.GATEWAY_IMAGE,
        port=routes[0].listen_port,
        health=HealthCheckSpec(command=("wget", "-q", *insecure, "-O", "/dev/null", url)),
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        user="101:101",
        tmpfs=("/tmp",),
    )


class DockerOnVmRuntime:
    """The ``docker`` runtime on cloud VMs: one compose project per system, no SSH, secrets from the cloud."""

    def __init__(self, name: str, stack: StackSettings, cloud: VmCloud, parent: pulumi.Resource) -> None:
        self.stack_name, self.domain, self.cloud = name, stack.domain, cloud
        self.replicas = stack.resilience.replicas
        self.auth_username, self.image_map = stack.auth_username, dict(stack.image_map)
        self.systems: dict[str, list[str]] = {}
        self.credentials: dict[str, pulumi.Output[str]] = {}
        self._admin_passwords: dict[str, dict[str, pulumi.Output[str]]] = {}
        self.ca_certificate_pem: pulumi.Input[str] | None = None
        self.allowed_source_cidrs = restricted(stack.allowed_source_cidrs)

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> None:
        """Deploy one system: its data stores and secret in the cloud, its compose project on VMs."""
        # Managed PostgreSQL runs no init script of an image: a job makes its roles and extensions as the master user.
        spec = with_setup_jobs(spec)
        name = spec.name
        site = self.cloud.system(spec)
        parent = site.resource
        child = pulumi.ResourceOptions(parent=parent)
        refs = SystemRefs(
            domain=self.domain,
            dns=nginx.DOCKER_DNS,
            route_hosts={r.name: f"{r.host}.{self.domain}" for r in spec.routes},
        )
        stores = site.add_data_stores(spec, refs)
        refs.secrets.update(system_secrets(name, spec.secrets, config_secrets, parent))
        self._admin_passwords[name] = admin_passwords(refs.secrets)

        services = on_one_vm(name, [s for s in spec.services if s.replicas > 0])
        # Only the services that use the system's buckets get cloud credentials, through their own path.
        credentials = self._container_credentials(site, services)
        if credentials is not None:
            services = [with_credentials(s, credentials) if uses_buckets(s) else s for s in services]
        tls = self.cloud.backend_tls
        gateway_routes, targets = self._targets(spec, all_through_gateway=tls)
        gateway = gateway_service(gateway_routes, tls=tls) if gateway_routes else None
        all_services = {s.name: s for s in [*services, *([gateway] if gateway else [])]}

        # Everything the VM needs, split into user data (no secrets) and the runtime secret.
        plain: dict[tuple[str, str], pulumi.Output[str]] = {}
        hidden: dict[tuple[str, str], pulumi.Output[str]] = {}
        for svc in services:
            for key, value in svc.env.items():
                (hidden if is_sensitive(value) else plain)[(svc.name, key)] = resolve(value, refs)
            for f in svc.files:
                (hidden if is_sensitive(f.content) else plain)[("file:" + svc.name, f.path)] = resolve(f.content, refs)
            # A private CA of a Redis the service uses, where its URL says to find it.
            templated = [*svc.env.values(), *(f.content for f in svc.files)]
            for redis_name in sorted({n for v in templated for k, n, _ in placeholders(v) if k == "redis" and n}):
                endpoint = refs.redis[redis_name]
                if endpoint.ca_path and endpoint.ca_certificate_pem is not None:
                    plain[("file:" + svc.name, endpoint.ca_path)] = pulumi.Output.from_input(
                        endpoint.ca_certificate_pem
                    )
        allowed = self.allowed_source_cidrs

        def gateway_conf(routes: list[cloud_init.GatewayRoute]) -> pulumi.Output[str]:
            return pulumi.Output.all(*self.cloud.trusted_proxies).apply(
                lambda trusted: cloud_init.gateway_conf(
                    routes, tls=tls, allowed_source_cidrs=allowed, trusted_proxies=[str(t) for t in trusted]
                )
            )

        if gateway is not None:
            plain[("file:auth-gateway", cloud_init.GATEWAY_CONF_PATH)] = gateway_conf(gateway_routes)
        if any(r.basic_auth for r in gateway_routes):
            password = random.RandomPassword(f"{name}-basic-auth", length=32, special=False, opts=child)
            self.credentials[name] = pulumi.Output.secret(password.result)
            hidden[("file:auth-gateway", cloud_init.HTPASSWD_PATH)] = password.result.apply(
                lambda pw: htpasswd_line(self.auth_username, pw)
            )
        # Made on the VM at boot (not in the secret): mounted like the secret files.
        boot_files = {"auth-gateway": list(cloud_init.GATEWAY_TLS_FILES)} if gateway is not None and tls else {}
        gateway_ports = {r.listen_port for r in gateway_routes}
        # Only what the load balancer reaches directly is published on the VM; the rest sits behind the gateway.
        publish = {
            svc.name: sorted({t.port for t in targets if t.route.service == svc.name and t.port not in gateway_ports})
            for svc in services
        }
        if gateway is not None:
            publish[gateway.name] = [r.listen_port for r in gateway_routes]

        # State (volumes not declared scratch) lives on a disk of its own that outlives the VMs; the VM that
        # mounts it runs every service, all copies of those writing state among them, and only the rest scale out.
        state_volumes = spec.state_volumes()
        state = [v.name for v in state_volumes]
        disk = site.state_disk(state_volumes) if state_volumes else None
        scale = {s.name for s in spec.scale_out()} & set(all_services) if disk is not None else set(all_services)
        layout = vm_layout(list(all_services.values()), scale, self.replicas, has_state=disk is not None)
        for copies_of in layout.values():  # copies on one VM would fight over a host port
            crowded = sorted(n for n, c in copies_of.items() if c > 1 and publish.get(n))
            if crowded:
                raise ValueError(
                    f"{name}: {', '.join(crowded)} run(s) several copies on one VM and cannot all publish "
                    f"{', '.join(str(p) for n in crowded for p in publish[n])}; route it through the gateway"
                )

        # The internet only for services that ask for it, and for bucket users (S3/GCS answer at public addresses).
        routable = {s.name for s in services if s.egress or uses_buckets(s)}

        def render(values: list[str], names: set[str], copies: Mapping[str, int], gateway_ports: Sequence[int]) -> str:
            resolved = dict(zip(plain.keys(), values, strict=True))
            compose_services = {}
            for svc in (s for s in all_services.values() if s.name in names):
                entry = cloud_init.compose_service(
                    svc,
                    plain_env={k: v for (owner, k), v in resolved.items() if owner == svc.name},
                    has_secret_env=any(owner == svc.name for owner, _ in hidden),
                    secret_files=[
                        *(p for (owner, p) in hidden if owner == f"file:{svc.name}"),
                        *boot_files.get(svc.name, []),
                    ],
                    plain_files=[p for (owner, p) in plain if owner == f"file:{svc.name}"],
                    publish=list(gateway_ports)
                    if gateway is not None and svc is gateway
                    else publish.get(svc.name, []),
                    image_map=self.image_map,
                    logs=shipped_logs(spec, svc),
                    # The daemon reaches the system's log collector from the VM itself: loopback only.
                    publish_loopback=[(spec.log_shipping.host_port, svc.port or 0)]
                    if spec.log_shipping is not None and svc.name == spec.log_shipping.collector
                    else (),
                )
                deps = cloud_init.depends_on(svc, all_services)
                if deps:
                    entry["depends_on"] = deps
                entry["networks"] = egress.networks(svc.name in routable)
                if copies.get(svc.name, 1) > 1:
                    # compose starts this many containers of the service (names get an index; DNS answers with all).
                    entry["deploy"] = {**entry.get("deploy", {}), "replicas": copies[svc.name]}
                compose_services[svc.name] = entry
            volumes = {v.name for s in all_services.values() if s.name in names for v in s.volumes}
            networks = egress.compose_networks(bool(routable))
            return cloud_init.render_compose(
                name, compose_services, sorted(volumes), networks, state=state if disk else ()
            )

        plain_files = pulumi.Output.all(*plain.values()).apply(
            lambda values: {
                f"{owner[5:]}{path}": v
                for (owner, path), v in zip(plain.keys(), values, strict=True)
                if owner.startswith("file:")
            }
        )

        def secret_json(values: list[str]) -> str:
            env: dict[str, dict[str, str]] = {}
            files: dict[str, str] = {}
            for (owner, key), value in zip(hidden.keys(), values, strict=True):
                if owner.startswith("file:"):
                    files[f"/{owner[5:]}{key}"] = value
                else:
                    env.setdefault(owner, {})[key] = value
            return cloud_init.secret_document(env, files)

        secret_id, secret_ready = site.store_secret(pulumi.Output.all(*hidden.values()).apply(secret_json))

        # Passwords the cloud rotates (RDS-managed): values hold their markers, the boot script fills them in.
        rotated = boot_secrets(refs)

        refresh = credentials.refresh if credentials is not None else pulumi.Output.from_input("")

        def user_data(values: list[object], mount: str | None) -> str:
            compose_text, secret, files, refresh_script, conf, *rotated_ids = values
            if conf is not None:  # this group's own gateway routes
                files = {**files, f"auth-gateway{cloud_init.GATEWAY_CONF_PATH}": conf}  # type: ignore[dict-item]
            source, command = site.fetch_command(str(secret))
            commands = {b.ref: site.fetch_command(str(i))[1] for b, i in zip(rotated, rotated_ids, strict=True)}
            managed = {b.ref: (commands[b.ref], b.key) for b in rotated}
            script = cloud_init.boot_script(source, command, name if boot_files else None, managed)
            check = cloud_init.rotation_check(name, commands) if commands else None
            return cloud_init.cloud_config(
                name,
                str(compose_text),
                script,
                files,  # type: ignore[arg-type]
                check,
                str(refresh_script) or None,
                mount,
            )

        def group(role: str, services: list[ServiceSpec], count: int, routes: set[str]) -> VmGroup:
            names = {s.name for s in services}
            copies = {n: c for n, c in layout[role].items() if n in names and c > 1}
            # The gateway serves (and publishes) only the routes to services on this group's VMs: the state VM's
            # Trainer is no upstream of a scale-out VM's gateway.
            here = [r for r in gateway_routes if r.upstream in names]
            ports = [r.listen_port for r in here]
            compose = pulumi.Output.all(*plain.values()).apply(lambda values: render(values, names, copies, ports))
            conf = gateway_conf(here) if gateway is not None and len(here) < len(gateway_routes) else None
            parts = pulumi.Output.all(compose, secret_id, plain_files, refresh, conf, *(b.secret_id for b in rotated))
            if role == "state" and disk is not None:
                mount = disk.attach.apply(lambda attach: cloud_init.mount_state_script(name, attach, state))
                document = pulumi.Output.all(parts, mount).apply(lambda v: user_data(v[0], v[1]))
            else:
                document = parts.apply(lambda v: user_data(v, None))
            return VmGroup(role, services, document, count, frozenset(routes), copies)  # type: ignore[arg-type]

        every_route = {t.route.name for t in targets}
        everything = list(all_services.values())
        if disk is None:
            groups = [group("all", everything, self.replicas, every_route)]
        else:
            groups = [group("state", everything, 1, every_route)]
            if "scale-out" in layout:
                shared = [s for s in everything if s.name in scale or (gateway is not None and s is gateway)]
                routes = {t.route.name for t in targets if t.route.service in scale}
                groups.append(group("scale-out", shared, self.replicas - 1, routes))
        self.systems[name] = site.run(groups, targets, [secret_ready, *stores])

    @staticmethod
    def _container_credentials(site: VmSystem, services: Sequence[ServiceSpec]) -> ContainerCredentials | None:
        return site.container_credentials() if any(uses_buckets(s) for s in services) else None

    @staticmethod
    def _targets(
        spec: SystemSpec, all_through_gateway: bool = False
    ) -> tuple[list[cloud_init.GatewayRoute], list[RouteTarget]]:
        """Routes to the gateway (basic auth, or every route when it ends the load balancer's TLS) or straight
        to the service's port, with their health paths: the service's own health endpoint, through the gateway's
        ``UPSTREAM_HEALTH_PATH`` for a proxied route."""
        gateway_routes: list[cloud_init.GatewayRoute] = []
        targets: list[RouteTarget] = []
        for route in spec.routes:
            svc = spec.service(route.service)
            if svc.replicas == 0:
                continue
            port = route.port or svc.port or 0
            # The service's own endpoint (its container check's path); "/" when its check is not an HTTP GET.
            health = (svc.health.service_path() if svc.health else None) or "/"
            if route.auth == "basic" or all_through_gateway:
                listen = GATEWAY_FIRST_PORT + len(gateway_routes)
                basic = route.auth == "basic"
                gateway_routes.append(
                    cloud_init.GatewayRoute(
                        listen,
                        svc.name,
                        port,
                        route.max_body_mb,
                        route.timeout_s,
                        basic,
                        health,
                        route.rate_limit_per_minute,
                        route.burst,
                    )
                )
                # Probed through the gateway, without credentials, at the service's own endpoint.
                targets.append(RouteTarget(route, listen, cloud_init.UPSTREAM_HEALTH_PATH))
            else:
                targets.append(RouteTarget(route, port, health))
        return gateway_routes, targets

    @property
    def admin_passwords(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """Generated administrator passwords per system."""
        return dict(self._admin_passwords)

    def finish(self) -> None:
        """The cloud's entry point, once every system's routes are known (a no-op where routes attach one by one)."""
        self.cloud.finish()

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """Per system: the machine the cloud chose for its services."""
        return self.cloud.machine_choices()

    def route_urls(self) -> dict[str, list[str]]:
        """Public URLs per system."""
        return dict(self.systems)
