"""``GcpCloud``: the foundation of a ``gcp`` stack, and ``GcpSystem``: one system's share of it.

Per stack: the KMS key ring (one key per purpose), the custom-mode VPC with
Cloud NAT and private services access, a log bucket, and the global HTTPS
load balancer with Cloud Armor. Per system: Cloud SQL, Memorystore, GCS
buckets and its runtime secret in Secret Manager (all with the stack's
customer-managed keys), one service account, and a regional managed
instance group of shielded GPU VMs running what the runtime renders, behind
the load balancer over TLS. Systems share the network, keys and load
balancer, never databases, credentials or service accounts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.data_stores import GcpDataStores
from components.clouds.gcp.foundation import GcpFoundation
from components.clouds.gcp.gpu_vm import GpuVmGroup
from components.clouds.gcp.labels import gcp_labels
from components.clouds.gcp.load_balancer import LoadBalancer
from components.clouds.gcp.machines import MachineChoice, choose_machine, hourly_price, needs
from components.clouds.gcp.network import LOAD_BALANCER_RANGES
from components.clouds.gcp.state_disk import GcpStateDisk, attach_lines
from components.edge import restricted
from components.gpu_catalog import cheapest_machine
from components.platform import RouteTarget, StackSettings, StateDisk, VmGroup
from components.specs import ServiceSpec, SystemSpec, VolumeSpec

# The GCP recipe of the stenosis guide (seeds/001) picks this shape for GPU work; shown next to our choice.
GUIDE_GPU_PICK = "n1-standard-8+t4"
GCS_ENDPOINT = "https://storage.googleapis.com"


def machine_summary(machine: MachineChoice, services: Sequence[ServiceSpec], count: int) -> dict[str, object]:
    """What the plan shows about a system's VMs: the need, the choice, and the guide's pick."""
    cpus, memory, gpu = needs(services)
    summary: dict[str, object] = {
        "machineType": machine.machine_type,
        "accelerator": machine.accelerator_type,
        "usdPerHour": machine.usd_per_hour,
        "count": count,
        "needs": {"vcpus": cpus, "memoryGb": round(memory, 1), "gpu": gpu.model_dump() if gpu else None},
    }
    if gpu is not None:
        # Both priced like the choice (europe-west2), so the three figures compare.
        summary["guidePick"] = {"machineType": GUIDE_GPU_PICK, "usdPerHour": hourly_price(GUIDE_GPU_PICK)}
        gpu_only = cheapest_machine("gcp", gpu)
        summary["gpuOnly"] = (
            {"machineType": gpu_only.machine_type, "usdPerHour": hourly_price(gpu_only.machine_type)}
            if gpu_only
            else None
        )
    return summary


class GcpCloud(GcpFoundation):
    """Shielded GPU VMs with managed data services behind one global HTTPS load balancer; children of the
    stack's ``Platform``."""

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        super().__init__(name, stack, parent)
        self.settings = settings = self.gcp_settings
        child = self.after_apis
        self.lb = LoadBalancer(
            name,
            project=self.project,
            domain=stack.domain,
            labels=self.gcp_labels,
            certificate_domains=None,
            certificate_self_link=settings.certificate_self_link,
            armor=settings.armor,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            route_limits=stack.route_limits,
            allowed_source_cidrs=restricted(stack.allowed_source_cidrs),
            deletion_protection=stack.resilience.deletion_protection,
            opts=child,
        )
        self.machines: dict[str, dict[str, object]] = {}

    @property
    def backend_tls(self) -> bool:
        """The load balancer speaks TLS to the VMs: no plain HTTP hop, even inside the VPC."""
        return True

    @property
    def trusted_proxies(self) -> list[pulumi.Input[str]]:
        """Google's front ends reach the VMs from the load balancer ranges and append the client's address and
        then the load balancer's own to ``X-Forwarded-For``: both are trusted, the address before them is the
        client's."""
        return [*LOAD_BALANCER_RANGES, self.lb.ip_address]

    def system(self, spec: SystemSpec) -> GcpSystem:
        """The system's own share of the cloud: its component, service account and data services."""
        return GcpSystem(spec, self, opts=self.after_apis)

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """What operators need from the foundation: the address DNS records must point at."""
        return {"loadBalancerIp": self.lb.ip_address}

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """Per system: the machine shape chosen, what it had to fit, and the guide's pick."""
        return dict(self.machines)

    def finish(self) -> None:
        """The URL map and the HTTPS front end, once every system's routes are known."""
        self.lb.finish()


class GcpSystem(GcpDataStores):
    """Groups one system's GCP resources (data services, secret, VMs and its routes' backends)."""

    def __init__(self, spec: SystemSpec, cloud: GcpCloud, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("clinical:gcp:System", spec, cloud, opts)
        self.cloud = cloud
        self.secret_ids: list[pulumi.Output[str]] = []
        self.state: GcpStateDisk | None = None
        self.register_outputs({})

    def store_secret(self, document: pulumi.Output[str]) -> tuple[pulumi.Output[str], pulumi.Resource]:
        """The system's runtime secret in Secret Manager, replicated in the region with the stack's key."""
        cloud = self.cloud
        secret = gcp.secretmanager.Secret(
            f"{self.name}-runtime",
            project=cloud.project,
            secret_id=f"{self.name}-runtime",
            labels=gcp_labels(self.labels),
            replication=gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[
                        gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                            location=cloud.region,
                            customer_managed_encryption=gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(
                                kms_key_name=cloud.keys.key_ids["secrets"]
                            ),
                        )
                    ]
                )
            ),
            opts=pulumi.ResourceOptions(
                parent=self, protect=cloud.resilience.protect, depends_on=list(cloud.keys.grants)
            ),
        )
        secret_data: pulumi.Output[str] = pulumi.Output.secret(document)
        version = gcp.secretmanager.SecretVersion(
            f"{self.name}-runtime", secret=secret.id, secret_data=secret_data, opts=pulumi.ResourceOptions(parent=self)
        )
        self.secret_ids.append(secret.id)
        return secret.secret_id, version

    def fetch_command(self, secret_id: str) -> tuple[str, str]:
        """How a VM reads the secret at boot: gcloud with the VM's own service account."""
        command = (
            f"gcloud secrets versions access latest --secret='{secret_id}' --project='{self.cloud.project}' \\\n"
            "  --quiet"
        )
        return "Secret Manager (the VM's service account)", command

    def container_credentials(self) -> None:
        """No credential path of their own: GCP containers use the VM's service account through the metadata
        server (the issue's per-service credentials are for AWS so far)."""
        return None

    def state_disk(self, volumes: Sequence[VolumeSpec]) -> StateDisk:
        """A CMEK pd-balanced disk in the region's first zone that is up, holding every state volume, with daily
        snapshots; the state VM's group attaches it."""
        cloud = self.cloud
        self.state = GcpStateDisk(
            self.name,
            project=cloud.project,
            region=cloud.region,
            size_gb=sum(v.size_gb for v in volumes),
            kms_key_id=cloud.keys.key_ids["disk"],
            backup_days=cloud.resilience.backup_days,
            protect=cloud.resilience.protect,
            labels=gcp_labels(self.labels),
            after=list(cloud.keys.grants),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return StateDisk(pulumi.Output.from_input(attach_lines()))

    def run(
        self, groups: Sequence[VmGroup], targets: Sequence[RouteTarget], after: Sequence[pulumi.Resource]
    ) -> list[str]:
        """Per group a managed instance group running its services; each route's backend takes the groups that
        serve it (the state group: one VM in the state disk's zone, with the disk as its preserved state)."""
        cloud, name = self.cloud, self.name
        tag = f"clinical-{name}"[:63]
        ports = sorted({t.port for t in targets})
        cloud.network.allow_load_balancer(f"{name}-from-lb", ports, [tag], self)
        backends: dict[str, list[pulumi.Output[str]]] = {t.route.name: [] for t in targets}
        for group in groups:
            # Sized for every container a VM runs: a service with three copies there counts three times.
            machine = choose_machine(group.containers)
            group.record_machine(cloud.machines, name, machine_summary(machine, group.containers, group.count))
            state = group.role == "state" and self.state is not None
            served = [t for t in targets if t.route.name in group.routes]
            # Autohealing probes a route these VMs serve, else the gateway's own /healthz.
            health = served[0] if served else None
            vms = GpuVmGroup(
                f"{name}-state" if state else name,
                project=cloud.project,
                region=cloud.region,
                machine=machine,
                subnet_self_link=cloud.network.subnet_self_link,
                user_data=group.user_data,
                disk_kms_key_id=cloud.keys.key_ids["disk"],
                secret_ids=self.secret_ids,
                bucket_names=self.bucket_names,
                read_objects=[u for s in group.services for u in s.reads_objects if u.startswith("gs://")],
                named_ports=[(f"p{p}", p) for p in ports],
                health_port=health.port if health else (targets[0].port if targets else 8081),
                health_path=health.health_path if health else "/healthz",
                target_size=group.count,
                labels=gcp_labels(self.labels),
                network_tags=[tag],
                spot=cloud.settings.spot and not state,  # a preemption would take the state's only writer
                disk_gb=200 if machine.gpu_count else 100,
                state_disk=self.state.disk.id if state and self.state else None,
                state_zone=self.state.zone if state and self.state else None,
                after=[*after, *cloud.keys.grants],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for t in served:
                backends[t.route.name].append(vms.instance_group)
        for t in targets:
            cloud.lb.route(
                f"{name}-{t.route.name}",
                f"{t.route.host}.{cloud.domain}",
                backends[t.route.name],
                f"p{t.port}",
                t.port,
                t.health_path,
                protocol="HTTPS",
            )
        return [f"https://{t.route.host}.{cloud.domain}" for t in targets]
