"""``GkeCluster``: the GKE control plane of a stack, its node service account, secrets key and node pools."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.gpu_vm import account_id
from components.clouds.gcp.keys import DESTROY_SCHEDULED_DURATION, ENCRYPTER_DECRYPTER, ROTATION_PERIOD
from components.clouds.gcp.labels import gcp_labels
from components.clouds.gcp.machines import CPU_SHAPES, GPU_SHAPES, MachineChoice
from components.gpu_catalog import GPU_MODELS
from components.managed_clusters import GPU_NODE_LABEL, GPU_TAINT, GpuPods, no_fit_error

CLUSTER_LOGS = ("SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS")
# What GKE nodes need and no more (Google's hardening guide for a node service account).
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
    "roles/artifactregistry.reader",
)
SYSTEM_MACHINE_TYPES = {"small": "e2-standard-4", "medium": "e2-standard-8", "large": "e2-standard-16"}
SYSTEM_DISK_GB, GPU_DISK_GB = 50, 200


def cluster_ranges(cidr: str) -> tuple[str, str, str]:
    """(pods, services, control plane /28) carved from the stack CIDR's third quarter, clear of the VM subnet
    (first half) and the private services range (last /20)."""
    net = ipaddress.IPv4Network(cidr)
    if net.prefixlen > 17:
        raise ValueError(f"stack CIDR {cidr} is too small for GKE: a /17 or larger leaves room for pods and services")
    upper = list(net.subnets(prefixlen_diff=2))
    pods, rest = upper[2], upper[3]
    quarters = list(rest.subnets(prefixlen_diff=2))
    services = quarters[0]
    master = next(quarters[1].subnets(new_prefix=28))
    return str(pods), str(services), str(master)


def system_machine(sizing: str) -> MachineChoice:
    """The system pool's shape by the stack's sizing."""
    wanted = SYSTEM_MACHINE_TYPES[sizing]
    return next(m for m in CPU_SHAPES if m.machine_type == wanted)


def gpu_fits(shape: MachineChoice, pods: GpuPods) -> bool:
    """Whether one node of ``shape`` holds the largest of ``pods``."""
    gpu = pods.request
    return (
        shape.gpu_model is not None
        and (gpu.model is None or shape.gpu_model == gpu.model)
        and shape.gpu_count >= gpu.count
        and GPU_MODELS[shape.gpu_model] >= gpu.min_vram_gb
        and shape.vcpus >= math.ceil(pods.vcpus)
        and shape.memory_gb >= math.ceil(pods.memory_gb)
    )


def choose_gpu_node(pods: GpuPods) -> MachineChoice:
    """The cheapest GPU shape of the region's catalogue (T4 on N1, L4 on G2) holding each of ``pods``."""
    found = [m for m in GPU_SHAPES if gpu_fits(m, pods)]
    if not found:
        offered = sorted({m.gpu_model for m in GPU_SHAPES if m.gpu_model})
        raise no_fit_error("GKE", pods, offered, lambda p: any(gpu_fits(m, p) for m in GPU_SHAPES))
    return min(found, key=lambda m: m.usd_per_hour)


class GkeCluster(pulumi.ComponentResource):
    """A GKE Standard cluster on the stack's VPC (after cloud-foundation-fabric's gke-cluster-standard).

    Secure defaults: private nodes; a private endpoint unless
    ``api_allowed_cidrs`` (then master authorized networks list exactly
    those, Google's public ranges excluded); Workload Identity; shielded
    nodes; Dataplane V2 (eBPF, enforces NetworkPolicy); Kubernetes secrets
    encrypted with a key of their own that only the GKE service agent may
    use; the REGULAR release channel; system, API server and workload logs;
    no legacy ABAC, no client certificate, no default node pool, no basic
    auth; nodes run as a service account of their own with only logging,
    monitoring and image-pull roles, with secure boot and integrity
    monitoring, the GKE metadata server (pods never see the node's
    credentials), CMEK boot disks, auto-repair and auto-upgrade. The
    Backup for GKE agent is on (the systems' namespace backups need it).
    Regional (a control plane in each zone) when the stack's resilience is
    multi-zone, else zonal. Deletion protection from the stack's resilience.
    """

    cluster: gcp.container.Cluster
    node_service_account: gcp.serviceaccount.Account

    def __init__(
        self,
        name: str,
        *,
        project: str,
        region: str,
        regional: bool,
        network_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        node_cidrs: Sequence[str],
        master_cidr: str,
        key_ring_id: pulumi.Input[str],
        disk_key_id: pulumi.Input[str],
        api_allowed_cidrs: Sequence[str],
        deletion_protection: bool,
        protect: bool,
        labels: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self.project, self.disk_key_id, self.labels = project, disk_key_id, gcp_labels(labels)
        number = gcp.organizations.get_project_output(project_id=project, opts=invoke).number
        self.project_number: pulumi.Output[str] = number
        secrets_key = gcp.kms.CryptoKey(
            f"{name}-gke-secrets",
            name="gke-secrets",
            key_ring=key_ring_id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=ROTATION_PERIOD,
            destroy_scheduled_duration=DESTROY_SCHEDULED_DURATION,
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
            ),
            labels=gcp_labels(labels, purpose="gke-secrets"),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.secrets_key_id = secrets_key.id
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-gke-secrets-encrypter",
            crypto_key_id=secrets_key.id,
            role=ENCRYPTER_DECRYPTER,
            member=number.apply(lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"),
            opts=child,
        )
        self.node_service_account = gcp.serviceaccount.Account(
            f"{name}-gke-nodes",
            project=project,
            account_id=account_id("gke-nodes", scope=name),
            display_name=f"GKE nodes of {name}",
            opts=child,
        )
        node_roles = [
            gcp.projects.IAMMember(
                f"{name}-gke-nodes-{role.split('/')[1].replace('.', '-')}",
                project=project,
                role=role,
                member=self.node_service_account.member,
                opts=child,
            )
            for role in NODE_ROLES
        ]
        self.location: pulumi.Output[str] = (
            pulumi.Output.from_input(region)
            if regional
            else gcp.compute.get_zones_output(project=project, region=region, status="UP", opts=invoke).names.apply(
                lambda names: names[0]
            )
        )
        public = bool(api_allowed_cidrs)
        self.cluster = gcp.container.Cluster(
            f"{name}-gke",
            project=project,
            location=self.location,
            description=f"Clinical platform cluster ({name})",
            network=network_id,
            subnetwork=subnet_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name="pods", services_secondary_range_name="services", stack_type="IPV4"
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not public,
                master_ipv4_cidr_block=master_cidr,
                master_global_access_config=gcp.container.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(
                    enabled=False
                ),
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr, display_name=f"allowed-{i}"
                    )
                    for i, cidr in enumerate([*node_cidrs, *api_allowed_cidrs])
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{project}.svc.id.goog"
            ),
            enable_shielded_nodes=True,
            datapath_provider="ADVANCED_DATAPATH",
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=secrets_key.id),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel="REGULAR"),
            logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=list(CLUSTER_LOGS)),
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
            ),
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True
                ),
                # Backup for GKE's agent: the namespace backups of the systems' claims run through it.
                gke_backup_agent_config=gcp.container.ClusterAddonsConfigGkeBackupAgentConfigArgs(enabled=True),
            ),
            remove_default_node_pool=True,
            initial_node_count=1,
            # The short-lived default pool is hardened too: it runs while the cluster is created.
            node_config=gcp.container.ClusterNodeConfigArgs(
                machine_type=SYSTEM_MACHINE_TYPES["small"],
                boot_disk_kms_key=disk_key_id,
                service_account=self.node_service_account.email,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            ),
            maintenance_policy=gcp.container.ClusterMaintenancePolicyArgs(
                recurring_window=gcp.container.ClusterMaintenancePolicyRecurringWindowArgs(
                    start_time="2025-01-04T02:00:00Z",
                    end_time="2025-01-04T08:00:00Z",
                    recurrence="FREQ=WEEKLY;BYDAY=SA,SU",
                )
            ),
            resource_labels=self.labels,
            deletion_protection=deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant, *node_roles]),
        )
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint})

    def _node_config(
        self, machine_type: str, disk_gb: int, *, gpu: MachineChoice | None
    ) -> gcp.container.NodePoolNodeConfigArgs:
        labels = {"clinical.platform/node-pool": "gpu" if gpu else "system"}
        taints = []
        accelerators = []
        if gpu is not None:
            labels[GPU_NODE_LABEL[0]] = GPU_NODE_LABEL[1]
            taints = [
                gcp.container.NodePoolNodeConfigTaintArgs(key=GPU_TAINT[0], value=GPU_TAINT[1], effect="NO_SCHEDULE")
            ]
            accelerators = [
                gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                    type=gpu.accelerator_type or "",
                    count=gpu.gpu_count,
                    gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                        gpu_driver_version="LATEST"
                    ),
                )
            ]
        return gcp.container.NodePoolNodeConfigArgs(
            machine_type=machine_type,
            image_type="COS_CONTAINERD",
            disk_type="pd-balanced",
            disk_size_gb=disk_gb,
            boot_disk_kms_key=self.disk_key_id,
            service_account=self.node_service_account.email,
            oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],  # IAM roles decide, not scopes
            shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
            workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            metadata={"disable-legacy-endpoints": "true"},
            labels=labels,
            resource_labels=self.labels,
            taints=taints or None,
            guest_accelerators=accelerators or None,
        )

    def node_pool(
        self,
        name: str,
        machine: MachineChoice,
        *,
        size: pulumi.Input[int],
        max_size: pulumi.Input[int],
        gpu: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> gcp.container.NodePool:
        """A node pool of ``machine`` with ``size`` to ``max_size`` nodes in all (the autoscaler moves between)."""
        return gcp.container.NodePool(
            name,
            project=self.project,
            location=self.location,
            cluster=self.cluster.name,
            initial_node_count=1,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=size, total_max_node_count=max_size, location_policy="ANY" if gpu else "BALANCED"
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
            node_config=self._node_config(
                machine.machine_type, GPU_DISK_GB if gpu else SYSTEM_DISK_GB, gpu=machine if gpu else None
            ),
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]), opts
            ),
        )
