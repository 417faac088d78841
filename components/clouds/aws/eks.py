"""``EksCloud``: an ``aws`` stack whose containers run on an EKS cluster (runtime ``kubernetes``).

The AWS foundation (stack key, VPC with private subnets and NAT, log
bucket) is the one ``AwsCloud`` uses; on it: the EKS cluster, a ``system``
node group for every CPU pod, one GPU node group per GPU type the systems
need (the cheapest type of the GPU catalog holding each system's largest
GPU pod), an encrypted gp3 StorageClass whose volumes carry a backup tag,
a daily AWS Backup plan selecting the EBS volumes with that tag (the
claims' state: Trainer, Solr, Prometheus, Grafana ...), and a Kubernetes
provider that authenticates with ``aws eks get-token`` (no static
credentials). Each
system gets RDS, ElastiCache and S3 (admitting only the cluster's nodes)
and an IRSA role for each service that uses a bucket. TLS ends at the
in-cluster ingress controller with the stack's certificate.

The provider reaches the API endpoint from where Pulumi runs: with a
private endpoint only, that is inside the VPC (a runner, VPN or bastion);
``kubernetes.apiAllowedCidrs`` opens the public endpoint to those ranges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.clouds.aws.backup_plan import daily_backup
from components.clouds.aws.eks_cluster import AFTER_NODES, EksCluster
from components.clouds.aws.eks_identity import EksSystem
from components.clouds.aws.eks_nodes import EksNodeGroup, choose_gpu_node, system_node_type
from components.clouds.aws.foundation import AwsFoundation
from components.cluster import GpuNodes, KubernetesSettings
from components.gpu_catalog import GpuMachine
from components.managed_clusters import GPU_NODE_LABEL, GPU_TAINT, check_api_cidrs, gpu_pods, kubeconfig
from components.pki import PrivateCertificateAuthority
from components.platform import StackSettings
from components.specs import ServiceSpec, SystemSpec

STORAGE_CLASS = "encrypted-gp3"
SYSTEM_DISK_GB, GPU_DISK_GB = 50, 200  # GPU images (CUDA, models) are large
BACKUP_TAG = "clinical.platform/backup"  # the tag key the volume backup plan selects by


def volume_tags(backup_value: str) -> dict[str, str]:
    """StorageClass parameters that make the EBS CSI driver tag each volume it creates with the backup tag
    (parameters named ``tagSpecification_<n>``, valued "key=value")."""
    return {"tagSpecification_1": f"{BACKUP_TAG}={backup_value}"}


class EksCloud(AwsFoundation):
    """EKS on the AWS foundation; satisfies the ``kubernetes`` runtime's ``ClusterCloud``."""

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        settings = stack.kubernetes or KubernetesSettings()
        api_cidrs = check_api_cidrs(settings.api_allowed_cidrs)
        self.cluster_name = f"{name}-cluster"
        super().__init__(name, stack, parent, cluster_name=self.cluster_name)
        # The runtime reads the storage class from the settings: the stack's encrypted class unless one is named.
        self.settings = (
            settings if settings.storage_class else settings.model_copy(update={"storage_class": STORAGE_CLASS})
        )
        self.ingress_tls = stack.tls
        child = pulumi.ResourceOptions(parent=parent)
        self.ca = PrivateCertificateAuthority(f"{name}-ca", f"Clinical platform CA ({stack.domain})", opts=child)
        self.cluster = EksCluster(
            name,
            cluster_name=self.cluster_name,
            subnet_ids=self.network.private_subnet_ids,
            kms_key_arn=self.key.arn,
            account_id=self.account_id,
            partition=self.partition,
            api_allowed_cidrs=api_cidrs,
            deletion_protection=stack.resilience.deletion_protection,
            tags=self.tags,
            opts=child,
        )
        self.system_type, self.system_price = system_node_type(stack.sizing)
        self.system_size = max(1, stack.resilience.replicas)
        self.system_nodes = self._node_group(
            f"{name}-system", self.system_type, gpu=False, size=self.system_size, max_size=self.system_size * 3
        )
        addons = [self.cluster.addon(name, addon, after=[self.system_nodes.node_group]) for addon in AFTER_NODES]
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.all(
                self.cluster.cluster.name,
                self.cluster.cluster.endpoint,
                self.cluster.cluster.certificate_authority.apply(lambda ca: ca.data or ""),
            ).apply(
                lambda v: kubeconfig(
                    v[0], v[1], v[2], "aws", ["eks", "get-token", "--cluster-name", v[0], "--region", self.region]
                )
            ),
            delete_unreachable=False,
            opts=child,
        )
        self.backup_tag = (BACKUP_TAG, f"{name}-volumes")
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"}
            ),
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": self.key.arn,
                **volume_tags(self.backup_tag[1]),
            },
            reclaim_policy="Retain" if stack.resilience.protect else "Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=addons),
        )
        # The claims' volumes: every EBS volume of the account carrying this stack's tag (a claim of another class
        # is not tagged: that class must tag its volumes the same way to be backed up).
        self.volume_backup = daily_backup(
            f"{name}-volumes",
            kms_key_arn=self.key.arn,
            backup_days=stack.resilience.backup_days,
            protect=stack.resilience.protect,
            tags={**self.tags, "role": "state"},
            resources=[self.partition.apply(lambda p: f"arn:{p}:ec2:*:*:volume/*")],
            tag=self.backup_tag,
            parent=parent,
        )
        self.cluster_ready: list[pulumi.Resource] = [
            *self.cluster.before_nodes,
            self.system_nodes.node_group,
            *addons,
            self.storage_class,
        ]
        self._gpu_types: dict[str, GpuMachine] = {}
        self._gpu_groups: dict[str, EksNodeGroup] = {}
        self._gpu_nodes: Counter[str] = Counter()
        self._gpu_services: dict[str, list[str]] = {}

    def _node_group(
        self, name: str, instance_type: str, *, gpu: bool, size: pulumi.Input[int], max_size: pulumi.Input[int]
    ) -> EksNodeGroup:
        return EksNodeGroup(
            name,
            cluster_name=self.cluster.cluster.name,
            node_role_arn=self.cluster.node_role_arn,
            subnet_ids=self.network.private_subnet_ids,
            instance_type=instance_type,
            gpu=gpu,
            size=size,
            max_size=max_size,
            disk_gb=GPU_DISK_GB if gpu else SYSTEM_DISK_GB,
            kms_key_arn=self.key.arn,
            tags={**self.tags, "role": "gpu-nodes" if gpu else "system-nodes"},
            after=[*self.cluster.before_nodes, *self.cluster.node_policies, self.cluster.volume_grant],
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    def gpu_nodes(self, services: Sequence[ServiceSpec]) -> GpuNodes:
        """The GPU node group of the cheapest catalogued type holding each GPU service's pod.

        One node group per distinct type, shared by the systems that need it;
        its size is the sum of every system's GPU pods, counted when the
        cluster exists (after every system has asked).
        """
        pods = gpu_pods(services)
        if pods is None:
            raise ValueError("gpu_nodes: none of the services asks for a GPU")
        machine = choose_gpu_node(pods)
        kind = machine.machine_type
        self._gpu_nodes[kind] += pods.nodes(machine.gpu_count)
        self._gpu_services.setdefault(kind, []).extend(s.name for s in pods.services)
        if kind not in self._gpu_groups:
            self._gpu_types[kind] = machine
            # Read once the cluster is created: by then every system has added its pods to the count.
            size = self.cluster.cluster.name.apply(lambda _: self._gpu_nodes[kind])
            group = self._node_group(
                f"{self.stack_name}-gpu-{kind.replace('.', '-')}",
                kind,
                gpu=True,
                size=size,
                max_size=size.apply(lambda n: n * 2),
            )
            self._gpu_groups[kind] = group
            self.cluster_ready.append(group.node_group)
        return GpuNodes(
            label=GPU_NODE_LABEL,
            taint_key=GPU_TAINT[0],
            model=machine.gpu_model,
            vram_gb=machine.vram_gb,
            gpus_per_node=machine.gpu_count,
            node_type=kind,
        )

    def system(self, spec: SystemSpec, namespace: str) -> EksSystem:
        """The system's RDS, ElastiCache and S3 (reached from the cluster's nodes) and its IRSA roles."""
        return EksSystem(spec, self, self.cluster, namespace, opts=pulumi.ResourceOptions(parent=self.parent))

    def finish(self) -> None:
        """Nothing waits for every system: GPU node group sizes are read when the cluster exists."""

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """The node groups: type, price, size and why."""
        choices: dict[str, dict[str, object]] = {
            "system-nodes": {
                "instanceType": self.system_type,
                "usdPerHour": self.system_price,
                "count": self.system_size,
                "why": f"sizing '{self.sizing}': every CPU pod of every system",
            }
        }
        for kind, machine in self._gpu_types.items():
            choices[f"gpu-nodes-{kind}"] = {
                "instanceType": kind,
                "usdPerHour": machine.usd_per_hour,
                "count": self._gpu_nodes[kind],
                "gpu": {"model": machine.gpu_model, "count": machine.gpu_count, "vramGb": machine.vram_gb},
                "why": "cheapest AWS GPU type holding the largest GPU pod of "
                + ", ".join(sorted(set(self._gpu_services[kind]))),
            }
        return choices

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """The cluster operators connect to (``aws eks update-kubeconfig --name <clusterName>``)."""
        return {"clusterName": self.cluster.cluster.name, "clusterEndpoint": self.cluster.cluster.endpoint}
