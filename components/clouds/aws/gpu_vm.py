"""``GpuVm``: an auto scaling group of (GPU) VMs running one system's containers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import containers_policy, service_role_trust

# Deep Learning Base AMI: NVIDIA driver, CUDA, Docker and the NVIDIA container toolkit.
DLAMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"


@dataclass(frozen=True)
class ContainerRole:
    """The role the host assumes for the containers that use the system's buckets (named up front: the boot
    script names it before it exists); it may use those buckets and the stack key, nothing else."""

    name: str
    bucket_arns: Sequence[pulumi.Input[str]]
    object_arns: Sequence[pulumi.Input[str]] = ()  # single objects it may read (model packs)


def dlami_id() -> pulumi.Output[str]:
    """The newest Deep Learning Base GPU AMI (x86_64, Ubuntu 22.04) owned by Amazon."""
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=["amazon"],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[DLAMI_NAME]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
        ],
    ).id


class GpuVm(pulumi.ComponentResource):
    """Launch template + auto scaling group behind the load balancer's target groups.

    Secure defaults: IMDSv2 required with hop limit 1, so only the host, never
    a container, reaches the metadata service and the instance role; no
    public IP and no SSH key (management through SSM Session Manager); root
    volume gp3 encrypted with the stack key; an instance role with SSM core,
    read access to this system's runtime secret (and the database passwords
    RDS manages for it) and, when it has buckets, the right to assume the
    system's containers role (its buckets and the key only), whose
    short-lived credentials the host hands to the bucket users alone;
    detailed monitoring; replaced on ELB health failure; spread over the
    private subnets of every zone. The AMI is resolved once
    and then ignored, so a new AMI never replaces running VMs by surprise.
    """

    def __init__(
        self,
        name: str,
        *,
        instance_type: str,
        user_data: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        secret_arns: Sequence[pulumi.Input[str]],
        container_role: ContainerRole | None,
        target_group_arns: Sequence[pulumi.Input[str]],
        capacity: int,
        disk_gb: int,
        tags: Mapping[str, str],
        spot: bool = False,
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:GpuVm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(tags)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=service_role_trust("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", opts=child
        )
        assumable: list[pulumi.Input[str]] = []
        if container_role is not None:
            containers = aws.iam.Role(
                f"{name}-containers",
                name=container_role.name,
                assume_role_policy=role.arn.apply(self._trust_of),
                max_session_duration=3600,
                tags=tags,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-containers-access",
                role=containers.id,
                policy=pulumi.Output.all(
                    kms_key_arn,
                    pulumi.Output.all(*container_role.bucket_arns),
                    pulumi.Output.all(*container_role.object_arns),
                ).apply(lambda v: containers_policy(v[0], v[1], v[2])),
                opts=child,
            )
            assumable.append(containers.arn)
        aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(kms_key_arn, pulumi.Output.all(*secret_arns), pulumi.Output.all(*assumable)).apply(
                lambda v: self._access_policy(v[1], v[0], v[2])
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child)
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            image_id=dlami_id(),
            instance_type=instance_type,
            user_data=pulumi.Output.from_input(user_data).apply(lambda text: base64.b64encode(text.encode()).decode()),
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,  # containers are one hop further: they get no answer
                instance_metadata_tags="disabled",
            ),
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="false",
                    security_groups=[security_group_id],
                    delete_on_termination="true",
                )
            ],
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/sda1",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=disk_gb,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=kms_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            instance_market_options=aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="spot")
            if spot
            else None,
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            ebs_optimized="true",
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags),
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=tags),
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["imageId"]),
        )
        self.group = aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=list(subnet_ids),
            min_size=capacity,
            max_size=capacity * 2,
            desired_capacity=capacity,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest"),
            target_group_arns=list(target_group_arns),
            health_check_type="ELB" if target_group_arns else "EC2",
            health_check_grace_period=900,  # model loading takes minutes
            wait_for_capacity_timeout="20m",
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(min_healthy_percentage=50),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=False)
                for k, v in sorted({**tags, "instance-type": instance_type, "root-volume-gb": str(disk_gb)}.items())
            ],
            # VMs read the runtime secret and reach the data services as they boot.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )
        self.register_outputs({"autoScalingGroup": self.group.name})

    @staticmethod
    def _trust_of(instance_role_arn: str) -> str:
        """Only the system's instance role (the host) may assume the containers role."""
        statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": instance_role_arn}}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    @staticmethod
    def _access_policy(secret_arns: Sequence[str], kms_key_arn: str, assumable: Sequence[str]) -> str:
        # The runtime secret, then any database password RDS manages (read at boot and by the rotation check).
        secrets: str | list[str] = secret_arns[0] if len(secret_arns) == 1 else list(secret_arns)
        statements: list[dict] = [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": kms_key_arn},
        ]
        if assumable:
            statements.append({"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": list(assumable)})
        return json.dumps({"Version": "2012-10-17", "Statement": statements})
