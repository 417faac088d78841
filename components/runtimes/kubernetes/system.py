"""``KubeSystem``: one clinical system in its own namespace, with its data stores, workloads and routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import tls_sidecar
from components.backups import OBJECT_STORE_VOLUME
from components.cluster import DataEgress, GpuNodes, KubernetesSettings, ServiceIdentity
from components.data_services import (
    MINIO_DATA_VOLUME,
    DataService,
    generate_minio_credentials,
    minio_endpoints,
    minio_services,
    postgres_endpoint,
    postgres_service,
    redis_endpoint,
    redis_service,
)
from components.endpoints import SystemRefs, boot_secrets, is_sensitive, resolve
from components.pki import PrivateCertificateAuthority
from components.runtimes.kubernetes.cloud import ClusterSystem
from components.runtimes.kubernetes.network_policy import namespace_policies
from components.runtimes.kubernetes.pod import SYSTEM_LABEL
from components.runtimes.kubernetes.traffic import MINIO_SERVICE, Peer, service_peers, used_stores
from components.runtimes.kubernetes.workload import KubeWorkload, ServiceFile, SidecarFiles, WorkloadInputs
from components.secrets import admin_passwords, system_secrets
from components.specs import ServiceSpec, SystemSpec, deployment_order

CLUSTER_DNS = "kube-dns.kube-system.svc.cluster.local"
CA_DIR = "/etc/clinical/ca"
CA_PATH = f"{CA_DIR}/ca.crt"
# Pod Security Admission, all three modes at restricted: refused, audited and warned alike.
PSA_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
# The Secret the ingress controller verifies TLS sidecars with: the stack CA's certificate, under ca.crt.
BACKEND_CA_SECRET = "backend-ca"


@dataclass(frozen=True)
class KubeRoute:
    """A route as the ingress sees it."""

    name: str
    fqdn: str
    service: str
    port: int
    path: str
    basic_auth: bool
    max_body_mb: int
    timeout_s: int
    rate_limit_per_minute: int = 600
    burst: int = 100
    # The service's TLS sidecar: the name its certificate carries and the "namespace/secret" of the CA that
    # verifies it (a service that handles PHI); None: plain HTTP to the pod.
    tls_name: str | None = None
    ca_secret: str | None = None


def volume_owners(ordered: list[ServiceSpec]) -> dict[str, str]:
    """For each volume, the first long-running service (in deployment order) that mounts it: the others that
    share it run on its node. Jobs own nothing: they finish (and release the volume) before their dependants."""
    owners: dict[str, str] = {}
    for svc in ordered:
        if svc.kind == "service":
            for volume in svc.volumes:
                owners.setdefault(volume.name, svc.name)
    return owners


def gpu_volumes(services: list[ServiceSpec]) -> set[str]:
    """Volumes a GPU service mounts: every pod sharing one runs on a GPU node (tolerating, not taking, a GPU)."""
    return {v.name for s in services if s.gpu is not None for v in s.volumes}


class KubeSystem(pulumi.ComponentResource):
    """A ``SystemSpec`` in its own namespace, isolated from every other system.

    The namespace enforces Pod Security ``restricted``; a default-deny
    network policy plus only the derived edges (service to service, to the
    data stores, from the ingress controller to routed services, DNS, and
    the internet only for services that ask for egress, never private
    ranges or instance metadata). On an existing cluster the system's
    PostgreSQL, Redis and MinIO run in the namespace as StatefulSets
    speaking TLS with certificates from the stack's CA; on EKS/GKE they are
    the cloud's managed services. Persistent claims are ``protect``-ed in prod.
    A routed service that handles PHI gets a TLS sidecar in its pod (a
    certificate from the stack's CA for its Service names): the ingress
    speaks HTTPS to it and verifies it, and the network policy admits the
    ingress controller on the sidecar's port only.
    """

    routes: list[KubeRoute]

    def __init__(
        self,
        name: str,
        spec: SystemSpec,
        *,
        namespace_name: str,
        domain: str,
        settings: KubernetesSettings,
        provider: pulumi.ProviderResource,
        ca: PrivateCertificateAuthority,
        cloud_system: ClusterSystem | None,
        gpu_nodes: GpuNodes | None,
        config_secrets: Mapping[str, pulumi.Output[str]],
        protect: bool,
        image_map: Mapping[str, str],
        after: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:kubernetes:System", name, None, opts)
        self.spec, self.settings, self.image_map = spec, settings, dict(image_map)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": namespace_name, "labels": {**PSA_LABELS, SYSTEM_LABEL: spec.name}},
            opts=k8s_opts,
        )
        ns = self.namespace.metadata.name
        inside = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.namespace])
        self._inside: pulumi.ResourceOptions = inside
        self._provider: pulumi.ProviderResource = provider
        self._ns: pulumi.Output[str] = ns
        self._protect: bool = protect
        self._storage_class = settings.storage_class
        self._store_peers: dict[str, set[Peer]] = {}
        self._object_store: pulumi.Resource | None = None  # the in-cluster MinIO StatefulSet, when there is one

        refs = SystemRefs(
            domain=domain, dns=CLUSTER_DNS, route_hosts={r.name: f"{r.host}.{domain}" for r in spec.routes}
        )
        refs.secrets.update(system_secrets(name, spec.secrets, config_secrets, self))
        self.admin_passwords = admin_passwords(refs.secrets)

        # Data stores: the cloud's managed services, or StatefulSets in the namespace.
        stores: dict[tuple[str, str], pulumi.Resource] = {}
        in_cluster_ports: dict[str, int] = {}
        ca_files: dict[tuple[str, str], ServiceFile] = {}
        if cloud_system is not None:
            created = cloud_system.add_data_stores(spec, refs)
            if boot_secrets(refs):  # a marker only a VM's boot script fills in would reach the pods verbatim
                raise ValueError(f"{name}: a cluster's data stores must hand pods their passwords, not boot secrets")
            self._stores_after = created
        else:
            self._stores_after = []
            stores, in_cluster_ports, ca_files = self._in_cluster_stores(name, spec, refs, ca)
        for rd_name, endpoint in refs.redis.items():
            if endpoint.ca_path and endpoint.ca_certificate_pem is not None and ("redis", rd_name) not in ca_files:
                ca_files[("redis", rd_name)] = ServiceFile(endpoint.ca_path, endpoint.ca_certificate_pem)

        services = [s for s in spec.services if s.replicas > 0]
        behind_tls = {s.name for s in services if tls_sidecar.needs_sidecar(s, spec.routes)}
        if behind_tls:
            k8s.core.v1.Secret(
                f"{name}-{BACKEND_CA_SECRET}",
                metadata={"name": BACKEND_CA_SECRET, "namespace": ns, "labels": {SYSTEM_LABEL: spec.name}},
                type="Opaque",
                string_data={"ca.crt": ca.ca_certificate_pem},
                opts=inside,
            )
        ordered = [s for s in deployment_order(spec) if s.replicas > 0]
        owners, on_gpu_nodes = volume_owners(ordered), gpu_volumes(services)
        started: set[str] = set()
        claims = self._claims(name, services)
        peers = service_peers(spec, in_cluster_ports)
        egress_by_service: dict[str, list[DataEgress]] = {}
        self.workloads: dict[str, KubeWorkload] = {}
        for svc in ordered:
            used = used_stores(svc)
            deps: list[pulumi.Resource] = list({id(stores[u]): stores[u] for u in used if u in stores}.values())
            if used and self._stores_after:  # managed stores: wait for all of the system's (created together)
                deps += self._stores_after
            deps += [self.workloads[d].controller for d in svc.depends_on if d in self.workloads]
            if self._object_store is not None and any(v.name == OBJECT_STORE_VOLUME for v in svc.volumes):
                # It mounts MinIO's claim, so it goes first on destroy: the StatefulSet's foreground deletion waits
                # for that claim, which waits for every pod that mounts it.
                deps.append(self._object_store)
            if cloud_system is not None and used:
                egress_by_service[svc.name] = list(cloud_system.data_egress())
            files = [
                ServiceFile(f.path, resolve(f.content, refs), f.mode, secret=is_sensitive(f.content)) for f in svc.files
            ]
            for ca_file in (ca_files[u] for u in sorted(used) if u in ca_files):
                if ca_file.path not in {f.path for f in files}:  # one CA serves Redis and MinIO alike
                    files.append(ca_file)
            # Follow the volume's owner only once it runs (a job before it keeps its volume to itself); the object
            # store's backup follows the MinIO StatefulSet's pod, whose claim it mounts.
            owner = (
                MINIO_SERVICE
                if any(v.name == OBJECT_STORE_VOLUME for v in svc.volumes)
                else next(
                    (
                        owners[v.name]
                        for v in svc.volumes
                        if owners.get(v.name) not in (None, svc.name) and owners[v.name] in started
                    ),
                    None,
                )
            )
            follows_gpu = any(v.name in on_gpu_nodes for v in svc.volumes)
            identity = cloud_system.identity(svc) if cloud_system is not None else ServiceIdentity()
            env: dict[str, pulumi.Input[str]] = {key: resolve(value, refs) for key, value in svc.env.items()}
            if any(kind == "bucket" for kind, _ in used) and cloud_system is None:
                env.setdefault("AWS_CA_BUNDLE", CA_PATH)  # boto3 trusts the in-cluster MinIO's certificate
            started.add(svc.name)
            self.workloads[svc.name] = KubeWorkload(
                f"{name}-{svc.name}",
                svc,
                system=spec.name,
                namespace=ns,
                inputs=WorkloadInputs(
                    env=env,
                    sensitive_env=frozenset(k for k, v in svc.env.items() if is_sensitive(v)),
                    files=files,
                    claims={v.name: claims[v.name] for v in svc.volumes},
                    gpu_nodes=gpu_nodes if (svc.gpu is not None or follows_gpu) else None,
                    co_locate_with=owner,
                    identity=identity,
                    image=self.image_map.get(svc.image, svc.image),
                    after=deps,
                    backup_claim=self._backup_claim(name, svc),
                    tls=self._sidecar_files(name, svc, ca) if svc.name in behind_tls else None,
                ),
                provider=provider,
                opts=inside,
            )

        self.routes = []
        for route in spec.routes:
            target = spec.service(route.service)
            if target.replicas == 0:
                continue
            tls = route.service in behind_tls
            self.routes.append(
                KubeRoute(
                    name=route.name,
                    fqdn=f"{route.host}.{domain}",
                    service=route.service,
                    port=tls_sidecar.TLS_PORT if tls else route.port or target.port or 0,
                    tls_name=self._service_names(route.service)[0] if tls else None,
                    ca_secret=f"{self.namespace_name}/{BACKEND_CA_SECRET}" if tls else None,
                    path=route.path,
                    basic_auth=route.auth == "basic",
                    max_body_mb=route.max_body_mb,
                    timeout_s=route.timeout_s,
                    rate_limit_per_minute=route.rate_limit_per_minute,
                    burst=route.burst,
                )
            )
        routed: dict[str, list[int]] = {}
        for r in self.routes:
            routed.setdefault(r.service, []).append(r.port)
        namespace_policies(
            name,
            system=spec.name,
            namespace=ns,
            peers={s.name: peers.get(s.name, set()) for s in services} | self._store_peers,
            routed=routed,
            ingress_namespace=settings.ingress_namespace,
            internet=[s.name for s in services if s.egress],
            data_egress=egress_by_service,
            opts=inside,
        )
        self.register_outputs({"namespace": ns, "routes": [f"https://{r.fqdn}" for r in self.routes]})

    def _service_names(self, service: str) -> list[str]:
        """The DNS names of a service's Service, the one the ingress verifies first."""
        return [f"{service}.{self.namespace_name}.svc", f"{service}.{self.namespace_name}.svc.cluster.local", service]

    def _sidecar_files(self, name: str, svc: ServiceSpec, ca: PrivateCertificateAuthority) -> SidecarFiles:
        """The TLS sidecar's nginx.conf (to the service on the pod's loopback) and its certificate."""
        ports = {r.port or svc.port for r in self.spec.routes if r.service == svc.name}
        if len(ports) != 1:
            raise ValueError(
                f"{name}: routes to '{svc.name}' target ports {sorted(p or 0 for p in ports)}; a service that "
                "handles PHI is routed on one port (its TLS sidecar forwards to it)"
            )
        cert = ca.issue(f"{name}-{svc.name}-tls-sidecar", self._service_names(svc.name))
        conf = tls_sidecar.render_conf(
            "127.0.0.1", ports.pop() or 0, tls_sidecar.limits_for(svc.name, self.spec.routes)
        )
        return SidecarFiles(conf, cert.certificate_pem, cert.private_key_pem)

    def _claims(self, name: str, services: list[ServiceSpec]) -> dict[str, str]:
        """One ReadWriteOnce claim per volume name, sized by its largest request; ``protect``-ed in prod. The object
        store's volume is the in-cluster MinIO StatefulSet's claim (``<template>-<set>-0``), not a new one."""
        sizes: dict[str, int] = {}
        for svc in services:
            for v in svc.volumes:
                if v.name != OBJECT_STORE_VOLUME:
                    sizes[v.name] = max(sizes.get(v.name, 0), v.size_gb)
        for volume, size in sorted(sizes.items()):
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-{volume}",
                metadata={
                    "name": volume,
                    "namespace": self._ns,
                    "labels": {SYSTEM_LABEL: self.spec.name},
                    # Bound when its first pod is scheduled (WaitForFirstConsumer): the pods are awaited instead.
                    "annotations": {"pulumi.com/skipAwait": "true"},
                },
                spec={
                    "access_modes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{size}Gi"}},
                    **({"storage_class_name": self._storage_class} if self._storage_class else {}),
                },
                opts=pulumi.ResourceOptions.merge(self._inside, pulumi.ResourceOptions(protect=self._protect)),
            )
        claims = {volume: volume for volume in sizes}
        if any(v.name == OBJECT_STORE_VOLUME for svc in services for v in svc.volumes):
            claims[OBJECT_STORE_VOLUME] = f"vol-{MINIO_DATA_VOLUME}-{MINIO_SERVICE}-0"
        return claims

    def _backup_claim(self, name: str, svc: ServiceSpec) -> str | None:
        """A backup service's own claim for its archives, of the stack's backup StorageClass (network storage keeps
        them off the nodes); one per service, because each may run on its volumes' node. ``protect``-ed in prod."""
        target = svc.backup_target
        if target is None:
            return None
        claim = f"{svc.name}-archives"
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-{claim}",
            metadata={
                "name": claim,
                "namespace": self._ns,
                "labels": {SYSTEM_LABEL: self.spec.name},
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            spec={
                "access_modes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{target.size_gb}Gi"}},
                **({"storage_class_name": target.storage_class} if target.storage_class else {}),
            },
            opts=pulumi.ResourceOptions.merge(self._inside, pulumi.ResourceOptions(protect=self._protect)),
        )
        return claim

    def _data_workload(self, name: str, data: DataService, after: list[pulumi.Resource] | None = None) -> KubeWorkload:
        svc = data.service
        return KubeWorkload(
            name,
            svc,
            system=self.spec.name,
            namespace=self._ns,
            inputs=WorkloadInputs(
                env={**svc.env, **data.env},
                sensitive_env=frozenset(data.env) if data.sensitive_env else frozenset(),
                files=[ServiceFile(f.path, f.content, secret=f.secret) for f in data.files],
                stateful=svc.kind == "service",
                storage_class=self._storage_class,
                protect=self._protect,
                image=self.image_map.get(svc.image, svc.image),
                after=after or [],
            ),
            provider=self._provider,
            opts=self._inside,
        )

    def _in_cluster_stores(
        self, name: str, spec: SystemSpec, refs: SystemRefs, ca: PrivateCertificateAuthority
    ) -> tuple[dict[tuple[str, str], pulumi.Resource], dict[str, int], dict[tuple[str, str], ServiceFile]]:
        """PostgreSQL, Redis and MinIO as StatefulSets with TLS from the stack's CA; their endpoints into refs."""
        child = pulumi.ResourceOptions(parent=self)
        stores: dict[tuple[str, str], pulumi.Resource] = {}
        ports: dict[str, int] = {}
        ca_files: dict[tuple[str, str], ServiceFile] = {}
        ca_file = ServiceFile(CA_PATH, ca.ca_certificate_pem)
        for pg in spec.postgres:
            password = random.RandomPassword(f"{name}-{pg.name}-password", length=32, special=False, opts=child)
            tls = ca.issue(f"{name}-{pg.name}-tls", [pg.name, f"{pg.name}.{self.namespace_name}.svc"])
            admin = random.RandomPassword(f"{name}-{pg.name}-admin-password", length=32, special=False, opts=child)
            monitor = random.RandomPassword(f"{name}-{pg.name}-monitor-password", length=32, special=False, opts=child)
            data = postgres_service(pg, password.result, tls, admin.result, monitor.result)
            workload = self._data_workload(f"{name}-{pg.name}", _renamed(data, pg.name))
            refs.postgres[pg.name] = postgres_endpoint(
                pg, pg.name, password.result, tls=True, monitor_password=monitor.result
            )
            stores[("postgres", pg.name)] = workload.controller
            ports[pg.name] = 5432
        for rd in spec.redis:
            password = random.RandomPassword(f"{name}-{rd.name}-password", length=32, special=False, opts=child)
            tls = ca.issue(f"{name}-{rd.name}-tls", [rd.name, f"{rd.name}.{self.namespace_name}.svc"])
            data = redis_service(rd, password.result, tls, ca.ca_certificate_pem)
            workload = self._data_workload(f"{name}-{rd.name}", _renamed(data, rd.name))
            refs.redis[rd.name] = redis_endpoint(rd.name, password.result, ca.ca_certificate_pem, CA_PATH)
            stores[("redis", rd.name)] = workload.controller
            ports[rd.name] = 6379
            ca_files[("redis", rd.name)] = ca_file
        if spec.buckets:
            creds = generate_minio_credentials(f"{name}-objects", child)
            tls = ca.issue(f"{name}-objects-tls", [MINIO_SERVICE, f"{MINIO_SERVICE}.{self.namespace_name}.svc"])
            server, setup = minio_services(spec.buckets, creds, tls, ca.ca_certificate_pem)
            minio = self._data_workload(f"{name}-objects", server)
            self._object_store = minio.controller
            job = self._data_workload(f"{name}-objects-setup", setup, [minio.controller])
            refs.buckets.update(minio_endpoints(spec.buckets, creds, tls=True))
            for b in spec.buckets:
                stores[("bucket", b.name)] = job.controller
                ca_files[("bucket", b.name)] = ca_file
            ports[MINIO_SERVICE] = 9000
            self._store_peers["minio-setup"] = {Peer(MINIO_SERVICE, 9000)}
        return stores, ports, ca_files

    @property
    def namespace_name(self) -> str:
        return str(self.settings.namespace_prefix) + self.spec.name


def _renamed(data: DataService, name: str) -> DataService:
    """The data store's service under the spec's name (the host its endpoint gives clients)."""
    return DataService(data.service.model_copy(update={"name": name}), data.env, data.files, data.sensitive_env)
