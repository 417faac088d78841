"""``GkeCloud``: a ``gcp`` stack whose containers run on a GKE cluster (runtime ``kubernetes``).

The GCP foundation (APIs, KMS keys, VPC with Cloud NAT and private
services access, log bucket) is the one ``GcpCloud`` uses; the VM subnet
gains the cluster's pod and service ranges. On it: a private GKE Standard
cluster, a ``system`` node pool for every CPU pod, one GPU node pool per GPU
shape the systems need (the cheapest T4 or L4 shape of the region holding
each system's largest GPU pod), a CMEK StorageClass, egress firewall rules
for the cluster's own traffic (the VPC denies egress by default), and a
Kubernetes provider authenticating with ``gke-gcloud-auth-plugin``. Each
system gets Cloud SQL, Memorystore and GCS, reached over private services
access (the peering carries the pod range), and a Google service account,
bound through Workload Identity, for each service that uses a bucket,
and, where it has volumes, a daily Backup for GKE plan of its namespace
with the claims' volume data (CMEK, kept ``backup_days``) and the restore
plan that puts it back.

The provider reaches the API endpoint from where Pulumi runs: with a
private endpoint only, that is inside the VPC (a runner, VPN or bastion);
``kubernetes.apiAllowedCidrs`` opens the public endpoint to those ranges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.clouds.gcp.bucket import object_reader
from components.clouds.gcp.data_stores import GcpDataStores
from components.clouds.gcp.foundation import GcpFoundation
from components.clouds.gcp.gke_backup import API as GKE_BACKUP_API
from components.clouds.gcp.gke_backup import backup_agent, namespace_backup
from components.clouds.gcp.gke_cluster import GkeCluster, choose_gpu_node, cluster_ranges, system_machine
from components.clouds.gcp.gpu_vm import account_id
from components.clouds.gcp.keys import ENCRYPTER_DECRYPTER
from components.clouds.gcp.machines import MachineChoice
from components.clouds.gcp.network import ALLOW_PRIORITY, LOG_ALL
from components.cluster import DataEgress, GpuNodes, KubernetesSettings, ServiceIdentity
from components.gpu_catalog import GPU_MODELS
from components.managed_clusters import GPU_NODE_LABEL, GPU_TAINT, bucket_names, check_api_cidrs, gpu_pods, kubeconfig
from components.pki import PrivateCertificateAuthority
from components.platform import StackSettings
from components.specs import ServiceSpec, SystemSpec

STORAGE_CLASS = "encrypted-pd"
SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
# Read and write objects, never the bucket's IAM or settings.
BUCKET_ROLE = "roles/storage.objectUser"


class GkeCloud(GcpFoundation):
    """GKE on the GCP foundation; satisfies the ``kubernetes`` runtime's ``ClusterCloud``."""

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        settings = stack.kubernetes or KubernetesSettings()
        api_cidrs = check_api_cidrs(settings.api_allowed_cidrs)
        self.pods_cidr, self.services_cidr, self.master_cidr = cluster_ranges(stack.cidr)
        super().__init__(
            name,
            stack,
            parent,
            extra_apis=("container.googleapis.com", GKE_BACKUP_API),
            secondary_ranges={"pods": self.pods_cidr, "services": self.services_cidr},
        )
        self.settings = (
            settings if settings.storage_class else settings.model_copy(update={"storage_class": STORAGE_CLASS})
        )
        self.ingress_tls = stack.tls
        child = self.after_apis
        self.ca = PrivateCertificateAuthority(f"{name}-ca", f"Clinical platform CA ({stack.domain})", opts=child)
        resilience = stack.resilience
        self.cluster = GkeCluster(
            name,
            project=self.project,
            region=self.region,
            regional=resilience.multi_az,
            network_id=self.network.network_id,
            subnet_id=self.network.subnet_id,
            node_cidrs=[self.network.subnet_cidr],
            master_cidr=self.master_cidr,
            key_ring_id=self.keys.key_ring_id,
            disk_key_id=self.keys.key_ids["disk"],
            api_allowed_cidrs=api_cidrs,
            deletion_protection=resilience.deletion_protection,
            protect=resilience.protect,
            labels=stack.labels,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(self.keys.grants))),
        )
        # Backup for GKE encrypts a namespace's backups with the disk key (the one its volumes already use).
        self.backup_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-gke-backup-encrypter",
            crypto_key_id=self.keys.key_ids["disk"],
            role=ENCRYPTER_DECRYPTER,
            member=self.cluster.project_number.apply(backup_agent),
            opts=child,
        )
        self.firewall = gcp.compute.Firewall(
            f"{name}-gke-egress",
            project=self.project,
            network=self.network.network_id,
            direction="EGRESS",
            priority=ALLOW_PRIORITY,
            allows=[gcp.compute.FirewallAllowArgs(protocol="all")],
            destination_ranges=[self.network.subnet_cidr, self.pods_cidr, self.services_cidr, self.master_cidr],
            target_service_accounts=[self.cluster.node_service_account.email],
            log_config=LOG_ALL,
            description="GKE nodes and pods to each other, to cluster services and to the control plane",
            opts=child,
        )
        self.system_machine = system_machine(stack.sizing)
        self.system_size = max(1, resilience.replicas)
        self.system_pool = self.cluster.node_pool(
            f"{name}-system", self.system_machine, size=self.system_size, max_size=self.system_size * 3, gpu=False
        )
        cluster = self.cluster.cluster
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.all(
                cluster.name,
                cluster.endpoint,
                cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or ""),
            ).apply(lambda v: kubeconfig(v[0], v[1], v[2], "gke-gcloud-auth-plugin")),
            delete_unreachable=False,
            opts=child,
        )
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"}
            ),
            provisioner="pd.csi.storage.gke.io",
            parameters={"type": "pd-balanced", "disk-encryption-kms-key": self.keys.key_ids["disk"]},
            reclaim_policy="Retain" if resilience.protect else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=[self.system_pool]),
        )
        self.cluster_ready: list[pulumi.Resource] = [self.system_pool, self.firewall, self.storage_class]
        self._gpu_shapes: dict[str, MachineChoice] = {}
        self._gpu_nodes: Counter[str] = Counter()
        self._gpu_services: dict[str, list[str]] = {}

    def gpu_nodes(self, services: Sequence[ServiceSpec]) -> GpuNodes:
        """The GPU node pool of the cheapest shape holding each GPU service's pod (one pool per shape)."""
        pods = gpu_pods(services)
        if pods is None:
            raise ValueError("gpu_nodes: none of the services asks for a GPU")
        machine = choose_gpu_node(pods)
        kind = machine.label
        self._gpu_nodes[kind] += pods.nodes(machine.gpu_count)
        self._gpu_services.setdefault(kind, []).extend(s.name for s in pods.services)
        if kind not in self._gpu_shapes:
            self._gpu_shapes[kind] = machine
            # Read once the cluster exists: by then every system has added its pods to the count.
            size = self.cluster.cluster.name.apply(lambda _: self._gpu_nodes[kind])
            pool_name = f"{self.stack_name}-gpu-{machine.machine_type}"
            if machine.attach_accelerators:
                pool_name += f"-{machine.gpu_model}"
            pool = self.cluster.node_pool(pool_name, machine, size=size, max_size=size.apply(lambda n: n * 2), gpu=True)
            self.cluster_ready.append(pool)
        gpu_model = machine.gpu_model or ""
        return GpuNodes(
            label=GPU_NODE_LABEL,
            taint_key=GPU_TAINT[0],
            model=gpu_model,
            vram_gb=GPU_MODELS.get(gpu_model, 0),
            gpus_per_node=machine.gpu_count,
            node_type=kind,
        )

    def system(self, spec: SystemSpec, namespace: str) -> GkeSystem:
        """The system's Cloud SQL, Memorystore and GCS and its services' Workload Identity accounts."""
        return GkeSystem(spec, self, namespace, opts=self.after_apis)

    def finish(self) -> None:
        """Nothing waits for every system: GPU pool sizes are read when the cluster exists."""

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """The node pools: shape, price, size and why."""
        choices: dict[str, dict[str, object]] = {
            "system-nodes": {
                "machineType": self.system_machine.machine_type,
                "usdPerHour": self.system_machine.usd_per_hour,
                "count": self.system_size,
                "why": f"sizing '{self.sizing}': every CPU pod of every system",
            }
        }
        for kind, machine in self._gpu_shapes.items():
            choices[f"gpu-nodes-{kind}"] = {
                "machineType": machine.machine_type,
                "accelerator": machine.accelerator_type,
                "usdPerHour": machine.usd_per_hour,
                "count": self._gpu_nodes[kind],
                "why": "cheapest GPU shape holding the largest GPU pod of "
                + ", ".join(sorted(set(self._gpu_services[kind]))),
            }
        return choices

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """The cluster operators connect to (``gcloud container clusters get-credentials <clusterName>``)."""
        return {"clusterName": self.cluster.cluster.name, "clusterEndpoint": self.cluster.cluster.endpoint}


class GkeSystem(GcpDataStores):
    """One system on GKE: its managed data stores and its services' Workload Identity accounts."""

    def __init__(
        self, spec: SystemSpec, cloud: GkeCloud, namespace: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("clinical:gcp:GkeSystem", spec, cloud, opts)
        self.cloud, self.namespace = cloud, namespace
        self.backup: gcp.gkebackup.BackupPlan | None = None
        if any(s.volumes for s in spec.services if s.replicas > 0):
            self.backup, _ = namespace_backup(
                spec.name,
                stack=cloud.stack_name,
                project=cloud.project,
                region=cloud.region,
                cluster_id=cloud.cluster.cluster.id,
                namespace=namespace,
                key_id=cloud.keys.key_ids["disk"],
                backup_days=cloud.resilience.backup_days,
                protect=cloud.resilience.protect,
                labels=cloud.gcp_labels,
                after=[cloud.backup_grant],
                parent=self,
            )
        self.register_outputs({})

    def data_egress(self) -> Sequence[DataEgress]:
        """The private services range (Cloud SQL and Memorystore) on the ports the system's stores use."""
        if not self.data_ports:
            return []
        return [DataEgress(cidr=self.cloud.network.private_services_cidr, ports=sorted(self.data_ports))]

    def identity(self, service: ServiceSpec) -> ServiceIdentity:
        """A Google service account for a service that names a bucket: object access to those buckets only,
        usable only by ``<namespace>/<service>``'s Kubernetes ServiceAccount (Workload Identity).

        Call after ``add_data_stores`` (the grants name the buckets it created).
        """
        names = bucket_names(service)
        objects = [url for url in service.reads_objects if url.startswith("gs://")]
        if not names and not objects:
            return ServiceIdentity()
        missing = [n for n in names if n not in self.buckets]
        if missing:
            raise ValueError(f"{self.name}/{service.name}: identity() before add_data_stores() made {missing}")
        cloud, child = self.cloud, pulumi.ResourceOptions(parent=self)
        prefix = f"{self.name}-{service.name}"
        account = gcp.serviceaccount.Account(
            f"{prefix}-wi",
            project=cloud.project,
            account_id=account_id(prefix, scope=cloud.stack_name),
            display_name=f"{self.namespace}/{service.name} (Workload Identity)",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{prefix}-wi-user",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{cloud.project}.svc.id.goog[{self.namespace}/{service.name}]",
            opts=child,
        )
        for name in names:
            gcp.storage.BucketIAMMember(
                f"{prefix}-{name}-objects",
                bucket=self.buckets[name].name,
                role=BUCKET_ROLE,
                member=account.member,
                opts=child,
            )
        for index, url in enumerate(objects):
            object_reader(f"{prefix}-reads-{index}", url, account.member, child)
        return ServiceIdentity(annotations={SERVICE_ACCOUNT_ANNOTATION: account.email})
