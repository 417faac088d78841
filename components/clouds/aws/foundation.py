"""``AwsFoundation``: what every AWS stack shares, whatever runs on it (VMs or an EKS cluster).

The stack's KMS key, its VPC (public subnets for load balancers and NAT,
private ones for workloads and data services) and the access-log bucket,
all children of the stack's ``Platform``. ``AwsCloud`` (Docker on VMs) and
``EksCloud`` (Kubernetes) build on it, so both get the same foundation with
the same resource names.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.clouds.aws.bucket import Bucket, LogDelivery
from components.clouds.aws.keys import StackKey
from components.clouds.aws.network import Network
from components.clouds.aws.settings import AwsSettings
from components.clouds.aws.tags import aws_tags
from components.platform import StackSettings


class AwsFoundation:
    """The stack key, the network and the log bucket of an ``aws`` stack; the parent of what a cloud adds."""

    def __init__(
        self, name: str, stack: StackSettings, parent: pulumi.Resource, *, cluster_name: str | None = None
    ) -> None:
        settings = stack.cloud_settings or AwsSettings()
        if not isinstance(settings, AwsSettings) or stack.region is None:
            raise TypeError(f"{type(self).__name__} needs AwsSettings and a region")  # StackConfig guarantees both
        self.stack_name, self.domain, self.aws_settings, self.region = name, stack.domain, settings, stack.region
        self.labels, self.sizing, self.resilience = dict(stack.labels), stack.sizing, stack.resilience
        self.parent = parent
        protect = stack.resilience.protect
        self.tags = aws_tags(stack.labels)
        child = pulumi.ResourceOptions(parent=parent)
        invoke = pulumi.InvokeOutputOptions(parent=parent)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        zones = aws.get_availability_zones_output(state="available", opts=invoke)
        # The zones the network spans; a system's state disk and the VM that mounts it live in the first.
        self.zones: list[pulumi.Output[str]] = [zones.names[i] for i in range(settings.zones)]
        self.account_id: pulumi.Output[str] = identity.account_id
        self.partition: pulumi.Output[str] = partition.partition
        self.key = StackKey(
            name,
            account_id=identity.account_id,
            partition=partition.partition,
            region=self.region,
            tags=self.tags,
            protect=protect,
            opts=child,
        )
        self.network = Network(
            name,
            cidr=stack.cidr,
            zones=self.zones,
            region=self.region,
            kms_key_arn=self.key.arn,
            tags=self.tags,
            nat_per_zone=stack.resilience.nat_per_zone,
            cluster_name=cluster_name,
            opts=child,
        )
        elb_account = aws.elb.get_service_account_output(opts=invoke)
        self.log_bucket = Bucket(
            f"{name}-logs",
            kms_key_arn=None,
            tags={**self.tags, "role": "access-logs"},
            log_bucket=None,
            noncurrent_days=30,
            expire_days=400,
            protect=protect,
            force_destroy=not protect,
            log_delivery=LogDelivery(elb_account_arn=elb_account.arn, account_id=identity.account_id),
            opts=child,
        )
