"""``DockerSystem``: one clinical system's services, data stores and secrets on a Docker host."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from components import nginx, tls_sidecar
from components.addressing import SystemSubnets
from components.backups import OBJECT_STORE_VOLUME
from components.endpoints import SystemRefs, is_sensitive, resolve
from components.hardening import ShippedLogs, shipped_logs
from components.pki import PrivateCertificateAuthority
from components.runtimes.docker_host.network import bridge_network
from components.runtimes.docker_host.object_store import ContainerObjectStore
from components.runtimes.docker_host.postgres import ContainerPostgres
from components.runtimes.docker_host.proxy import ProxyRoute
from components.runtimes.docker_host.redis import ContainerRedis
from components.runtimes.docker_host.volumes import named_volume
from components.runtimes.docker_host.workload import (
    AUTH_LABEL,
    SECRET_FILE_MODE,
    Attachment,
    ContainerWorkload,
    Upload,
    WritableMount,
)
from components.secrets import admin_passwords, system_secrets
from components.specs import ServiceSpec, SystemSpec, deployment_order, placeholders

SIDECAR_ROLE = "tls-sidecar"


def _sidecar_logs(spec: SystemSpec, svc: ServiceSpec) -> ShippedLogs | None:
    logs = shipped_logs(spec, svc)
    return None if logs is None else dataclasses.replace(logs, service=f"{svc.name}-tls")


def sidecar_host(system: str, service: str) -> str:
    """The TLS sidecar's container name, its alias on ``frontend`` and its certificate's name."""
    return f"{system}-{service}-tls"


class DockerSystem(pulumi.ComponentResource):
    """A ``SystemSpec`` on one Docker host, isolated from every other system.

    Each system gets its own networks: ``frontend`` (internal; its routed
    services and the proxy), ``backend`` (internal; its services and data
    stores, never the proxy) and, only when a service asks for outbound
    access, ``egress``. A routed service that handles PHI leaves
    ``frontend`` to its TLS sidecar (``<system>-<service>-tls``, a
    certificate from the stack's CA for that name), which reaches it on
    ``backend``: only TLS crosses the network the proxy shares. Its own PostgreSQL, Redis and MinIO, its own
    generated credentials: nothing is shared with another system. Stateful
    volumes are ``protect``-ed when ``protect_data`` is set (prod).
    """

    routes: list[ProxyRoute]
    frontend: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: SystemSpec,
        *,
        domain: str,
        subnets: SystemSubnets,
        labels: Mapping[str, str],
        config_secrets: Mapping[str, pulumi.Output[str]],
        auth_file_dir: str,
        certificate_authority: PrivateCertificateAuthority | None = None,
        protect_data: bool = False,
        image_map: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:docker:System", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._image_map = image_map
        labels = {**labels, "clinical.platform/system": spec.name}
        frontend = bridge_network(f"{name}-frontend", subnets.frontend, role="frontend", labels=labels, parent=self)
        backend = bridge_network(f"{name}-backend", subnets.backend, role="backend", labels=labels, parent=self)
        egress = (
            bridge_network(f"{name}-egress", subnets.egress, role="egress", labels=labels, parent=self)
            if any(s.egress for s in spec.services)
            else None
        )
        self.frontend = frontend.name

        refs = SystemRefs(
            domain=domain, dns=nginx.DOCKER_DNS, route_hosts={r.name: f"{r.host}.{domain}" for r in spec.routes}
        )
        refs.secrets.update(system_secrets(name, spec.secrets, config_secrets, self))
        self.admin_passwords = admin_passwords(refs.secrets)

        # Data stores by placeholder (kind, name), so each service waits only for the ones it uses.
        stores: dict[tuple[str, str], pulumi.Resource] = {}
        for pg in spec.postgres:
            server_tls = (
                certificate_authority.issue(f"{name}-{pg.name}-tls", [pg.name]) if certificate_authority else None
            )
            db = ContainerPostgres(
                f"{name}-{pg.name}",
                pg,
                network=backend.name,
                labels=labels,
                tls=server_tls,
                protect=protect_data,
                image_map=image_map,
                opts=child,
            )
            refs.postgres[pg.name] = db.endpoint
            stores[("postgres", pg.name)] = db
        for rd in spec.redis:
            cache = ContainerRedis(
                f"{name}-{rd.name}",
                rd,
                network=backend.name,
                labels=labels,
                protect=protect_data,
                image_map=image_map,
                opts=child,
            )
            refs.redis[rd.name] = cache.endpoint
            stores[("redis", rd.name)] = cache
        object_volume: dict[str, pulumi.Input[str]] = {}
        if spec.buckets:
            store = ContainerObjectStore(
                f"{name}-objects",
                spec.buckets,
                network=backend.name,
                labels=labels,
                protect=protect_data,
                image_map=image_map,
                opts=child,
            )
            refs.buckets.update(store.endpoints)
            stores.update({("bucket", b.name): store for b in spec.buckets})
            object_volume[OBJECT_STORE_VOLUME] = store.data_volume  # what the object store's backup mounts

        volume_names = {v.name for s in spec.services for v in s.volumes} - set(object_volume)
        volumes: dict[str, pulumi.Input[str]] = {
            v: named_volume(f"{name}-{v}", labels, self, protect=protect_data).name for v in sorted(volume_names)
        }
        volumes.update(object_volume)

        routed = {r.service for r in spec.routes}
        behind_tls = {s.name for s in spec.services if tls_sidecar.needs_sidecar(s, spec.routes)}
        if behind_tls and certificate_authority is None:
            raise ValueError(f"{name}: services that handle PHI need the stack's CA for their TLS sidecars")
        # Who authenticates the users of a routed service: the proxy, or the application itself.
        route_auth = {
            svc: {AUTH_LABEL: "app" if any(r.auth == "app" for r in spec.routes if r.service == svc) else "proxy"}
            for svc in routed
        }
        self.workloads: dict[str, ContainerWorkload] = {}
        for svc in deployment_order(spec):
            if svc.replicas == 0:
                continue
            collector = spec.log_shipping is not None and svc.name == spec.log_shipping.collector
            attachments = [Attachment(backend.name, (svc.name,))]
            if svc.name in routed and svc.name not in behind_tls:
                attachments.append(Attachment(frontend.name, (f"{name}-{svc.name}",)))
            if svc.egress and egress is not None:
                # Docker publishes no port of a container whose networks are all internal: the collector's
                # loopback port needs this one (the spec asks for egress for that reason).
                attachments.append(Attachment(egress.name, ()))
            templated = [*svc.env.values(), *(f.content for f in svc.files)]
            used = {(kind, ref) for value in templated for kind, ref, _ in placeholders(value) if ref}
            deps: list[pulumi.Input[pulumi.Resource]] = list(
                {id(stores[u]): stores[u] for u in used if u in stores}.values()
            )
            for dep in svc.depends_on:
                if dep in self.workloads:
                    deps.extend(self.workloads[dep].ready)
            uploads = [
                Upload(f.path, resolve(f.content, refs), SECRET_FILE_MODE)
                if is_sensitive(f.content)
                else Upload(f.path, resolve(f.content, refs), f.mode)
                for f in svc.files
            ]
            self.workloads[svc.name] = ContainerWorkload(
                f"{name}-{svc.name}",
                svc,
                env={key: resolve(value, refs) for key, value in svc.env.items()},
                attachments=attachments,
                volumes=volumes,
                uploads=uploads,
                labels={**labels, "clinical.platform/service": svc.name, **route_auth.get(svc.name, {})},
                sensitive_env=any(is_sensitive(v) for v in svc.env.values()),
                after=deps,
                image_map=image_map,
                role="backup" if svc.backup_target is not None else "log-collector" if collector else "app",
                # The daemon reaches the collector from the host: loopback only, never another address.
                publish=[(svc.port or 0, spec.log_shipping.host_port, "127.0.0.1")]
                if collector and spec.log_shipping is not None
                else (),
                writable_mounts=self._backup_target(name, svc, labels, protect_data),
                logs=shipped_logs(spec, svc),
                opts=child,
            )
            if svc.name in behind_tls and certificate_authority is not None:
                self._tls_sidecar(
                    name, spec, svc, labels | route_auth[svc.name], frontend, backend, certificate_authority
                )

        self.routes = []
        for route in spec.routes:
            target = spec.service(route.service)
            if target.replicas == 0:
                continue
            tls_name = sidecar_host(name, route.service) if route.service in behind_tls else None
            self.routes.append(
                ProxyRoute(
                    fqdn=f"{route.host}.{domain}",
                    upstream=tls_name or f"{name}-{route.service}",
                    port=tls_sidecar.TLS_PORT if tls_name else route.port or target.port or 0,
                    tls_name=tls_name,
                    auth_file=f"{auth_file_dir}/{name}.htpasswd" if route.auth == "basic" else None,
                    max_body_mb=route.max_body_mb,
                    timeout_s=route.timeout_s,
                    rate_limit_per_minute=route.rate_limit_per_minute,
                    burst=route.burst,
                )
            )
        self.needs_basic_auth = any(r.auth_file for r in self.routes)
        self.register_outputs({"routes": [f"https://{r.fqdn}" for r in self.routes]})

    def _tls_sidecar(
        self,
        name: str,
        spec: SystemSpec,
        svc: ServiceSpec,
        labels: Mapping[str, str],
        frontend: docker.Network,
        backend: docker.Network,
        ca: PrivateCertificateAuthority,
    ) -> None:
        """The service's TLS sidecar: on ``frontend`` under the name its certificate carries, forwarding over
        ``backend`` to the service's own name (every copy); started once the service is healthy."""
        host = sidecar_host(name, svc.name)
        routes = [r for r in spec.routes if r.service == svc.name]
        ports = {r.port or svc.port for r in routes}
        if len(ports) != 1:  # one sidecar, one upstream port
            raise ValueError(
                f"{name}: routes to '{svc.name}' target ports {sorted(p or 0 for p in ports)}; a service "
                "that handles PHI is routed on one port (its TLS sidecar forwards to it)"
            )
        cert = ca.issue(host, [host])
        conf = tls_sidecar.render_conf(
            svc.name, ports.pop() or 0, tls_sidecar.limits_for(svc.name, spec.routes), resolver=nginx.DOCKER_DNS
        )
        self.workloads[f"{svc.name}-tls"] = ContainerWorkload(
            host,
            tls_sidecar.sidecar_spec(),
            env={},
            attachments=[Attachment(frontend.name, (host,)), Attachment(backend.name, ())],
            uploads=[
                Upload(tls_sidecar.CONF_PATH, conf),
                Upload(tls_sidecar.CERT_PATH, cert.certificate_pem),
                Upload(tls_sidecar.KEY_PATH, cert.private_key_pem, SECRET_FILE_MODE),
            ],
            labels={**labels, "clinical.platform/service": svc.name},
            role=SIDECAR_ROLE,
            after=self.workloads[svc.name].ready,
            # Its access log is the system's too: shipped like the service's, under <service>-tls.
            logs=_sidecar_logs(spec, svc),
            image_map=self._image_map,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _backup_target(
        self, name: str, svc: ServiceSpec, labels: Mapping[str, str], protect: bool
    ) -> list[WritableMount]:
        """A backup service's target: ``<host_path>/<system>/<service>`` (storage of another machine), or a named
        volume on this host when the stack sets no target (development stacks; config refuses it for prod/phi)."""
        target = svc.backup_target
        if target is None:
            return []
        if target.host_path is not None:
            return [WritableMount(f"{target.host_path}/{name}/{svc.name}", target.mount_path, volume=False)]
        volume = named_volume(f"{name}-{svc.name}-archives", labels, self, protect=protect)
        return [WritableMount(volume.name, target.mount_path, volume=True)]
