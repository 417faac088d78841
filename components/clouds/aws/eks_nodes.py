"""EKS managed node groups: the type each group runs, and ``EksNodeGroup`` with its hardened launch template."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.machines import CPU_MACHINES
from components.gpu_catalog import MACHINES, GpuMachine, offered_models
from components.managed_clusters import GPU_TAINT, GpuPods, no_fit_error

# The system node group by the stack's sizing: it runs every CPU pod of every system.
SYSTEM_NODE_TYPES = {"small": "m6i.xlarge", "medium": "m6i.2xlarge", "large": "m6i.4xlarge"}


def system_node_type(sizing: str) -> tuple[str, float]:
    """(instance type, USD/h) of the system node group."""
    wanted = SYSTEM_NODE_TYPES[sizing]
    return wanted, next(price for name, _, _, price in CPU_MACHINES if name == wanted)


def gpu_fits(machine: GpuMachine, pods: GpuPods) -> bool:
    """Whether one ``machine`` holds the largest of ``pods`` (model, GPUs, memory per GPU, CPUs, memory)."""
    gpu = pods.request
    return (
        (gpu.model is None or machine.gpu_model == gpu.model)
        and machine.gpu_count >= gpu.count
        and machine.vram_gb >= gpu.min_vram_gb
        and machine.vcpus >= math.ceil(pods.vcpus)
        and machine.memory_gb >= math.ceil(pods.memory_gb)
    )


def choose_gpu_node(pods: GpuPods) -> GpuMachine:
    """The cheapest AWS GPU type (from the GPU catalog) that holds each of ``pods``."""
    aws_types = [m for m in MACHINES if m.cloud == "aws"]

    def fits(p: GpuPods) -> bool:
        return any(gpu_fits(m, p) for m in aws_types)

    found = [m for m in aws_types if gpu_fits(m, pods)]
    if not found:
        raise no_fit_error("EKS", pods, offered_models("aws"), fits)
    return min(found, key=lambda m: m.usd_per_hour)


class EksNodeGroup(pulumi.ComponentResource):
    """A managed node group in the private subnets, launched from a hardened template.

    Secure defaults: IMDSv2 only with a hop limit of 1 (pods cannot reach the
    node's credentials; they use IRSA); an encrypted gp3 root volume with
    the stack key; no SSH key and no remote access; on-demand capacity;
    nodes join through the cluster's security group only. GPU groups run
    the NVIDIA AL2023 AMI (drivers and container toolkit included), carry
    the ``nvidia.com/gpu.present=true`` label and the
    ``nvidia.com/gpu=present:NoSchedule`` taint, so only GPU pods land there.
    The desired size is AWS's to change (an autoscaler's), so Pulumi ignores it.
    """

    node_group: aws.eks.NodeGroup

    def __init__(
        self,
        name: str,
        *,
        cluster_name: pulumi.Input[str],
        node_role_arn: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        instance_type: str,
        gpu: bool,
        size: pulumi.Input[int],
        max_size: pulumi.Input[int],
        disk_gb: int,
        kms_key_arn: pulumi.Input[str],
        tags: Mapping[str, str],
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:EksNodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(tags)
        ebs = aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_size=disk_gb,
            volume_type="gp3",
            encrypted="true",
            kms_key_id=kms_key_arn,
            delete_on_termination="true",
        )
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"EKS nodes {name}: IMDSv2 only, encrypted root volume, no SSH",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=ebs)],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={**tags, "Name": name})
                for kind in ("instance", "volume")
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            update_default_version=True,
            tags=tags,
            opts=child,
        )
        labels = {"clinical.platform/node-group": "gpu" if gpu else "system"}
        if gpu:
            labels["nvidia.com/gpu.present"] = "true"
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster_name,
            node_role_arn=node_role_arn,
            subnet_ids=list(subnet_ids),
            instance_types=[instance_type],
            ami_type="AL2023_x86_64_NVIDIA" if gpu else "AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=size, min_size=size, max_size=max_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels=labels,
            taints=[aws.eks.NodeGroupTaintArgs(key=GPU_TAINT[0], value=GPU_TAINT[1], effect="NO_SCHEDULE")]
            if gpu
            else None,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(after), ignore_changes=["scalingConfig.desiredSize"]
            ),
        )
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name})
