"""``GpuVm``: an auto scaling group of (GPU) VMs running one system's containers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import service_role_trust

# Deep Learning Base AMI: NVIDIA driver, CUDA, Docker and the NVIDIA container toolkit.
DLAMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"


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

    Secure defaults: IMDSv2 required (hop limit 2 so containers can use the
    instance role); no public IP and no SSH key (management through SSM
    Session Manager); root volume gp3 encrypted with the stack key; an
    instance role with SSM core, read access to this system's runtime secret
    (and the database passwords RDS manages for it) and buckets only;
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
        bucket_arns: Sequence[pulumi.Input[str]],
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
        aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(kms_key_arn, pulumi.Output.all(*secret_arns), *bucket_arns).apply(
                lambda v: self._access_policy(v[1], v[0], v[2:])
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
                http_put_response_hop_limit=2,
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
    def _access_policy(secret_arns: Sequence[str], kms_key_arn: str, bucket_arns: Sequence[str]) -> str:
        # The runtime secret, then any database password RDS manages (read at boot and by the rotation check).
        secrets: str | list[str] = secret_arns[0] if len(secret_arns) == 1 else list(secret_arns)
        statements: list[dict] = [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": kms_key_arn},
        ]
        if bucket_arns:
            statements.append({"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": list(bucket_arns)})
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{arn}/*" for arn in bucket_arns],
                }
            )
        return json.dumps({"Version": "2012-10-17", "Statement": statements})
