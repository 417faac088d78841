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


# Tags of the state VM's instances that the attach permission requires (stack and system come with every tag set).
STATE_TAG_KEYS = ("stack", "system", "role")


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
        container_role_arn: pulumi.Input[str] | None = None,
        also_trusted: Sequence[pulumi.Input[str]] = (),
        target_group_arns: Sequence[pulumi.Input[str]],
        capacity: int,
        disk_gb: int,
        tags: Mapping[str, str],
        spot: bool = False,
        state_volume_arn: pulumi.Input[str] | None = None,
        instance_arns: pulumi.Input[str] | None = None,
        containers_moved_from: tuple[str, pulumi.Input[str]] | None = None,
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:GpuVm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The state VM's instances carry role=state: only an instance of this stack's system so tagged may take
        # the state volume (the attach permission's condition below).
        tags = {**tags, "role": "state"} if state_volume_arn is not None else dict(tags)
        state_tags = {k: tags[k] for k in STATE_TAG_KEYS if k in tags} if state_volume_arn is not None else {}
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=service_role_trust("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", opts=child
        )
        self.role_arn = role.arn
        # A group that does not create the containers role (a system's scale-out VMs) may still assume it.
        assumable: list[pulumi.Input[str]] = [container_role_arn] if container_role_arn is not None else []
        if container_role is not None:

            def moved(suffix: str) -> pulumi.ResourceOptions:
                # The role keeps its IAM name when it moves to another group's component (a system that gained a
                # state VM): the alias makes that a move, not a delete and a create that would clash on the name.
                if containers_moved_from is None:
                    return child
                old_name, old_parent_urn = containers_moved_from
                alias = pulumi.Alias(name=f"{old_name}-{suffix}", parent=old_parent_urn)
                return pulumi.ResourceOptions(parent=self, aliases=[alias])

            containers = aws.iam.Role(
                f"{name}-containers",
                name=container_role.name,
                assume_role_policy=pulumi.Output.all(role.arn, *also_trusted).apply(self._trust_of),
                max_session_duration=3600,
                tags=tags,
                opts=moved("containers"),
            )
            aws.iam.RolePolicy(
                f"{name}-containers-access",
                role=containers.id,
                policy=pulumi.Output.all(
                    kms_key_arn,
                    pulumi.Output.all(*container_role.bucket_arns),
                    pulumi.Output.all(*container_role.object_arns),
                ).apply(lambda v: containers_policy(v[0], v[1], v[2])),
                opts=moved("containers-access"),
            )
            assumable.append(containers.arn)
        # The state VM attaches the system's state disk to itself at boot.
        attach = (
            pulumi.Output.all(state_volume_arn, instance_arns) if state_volume_arn else pulumi.Output.from_input([])
        )
        aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(
                kms_key_arn, pulumi.Output.all(*secret_arns), pulumi.Output.all(*assumable), attach
            ).apply(lambda v: self._access_policy(v[1], v[0], v[2], v[3], state_tags)),
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
        # One VM holds a state disk at a time: never a second one beside it, even during a refresh.
        single = state_volume_arn is not None
        self.group = aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=list(subnet_ids),
            min_size=capacity,
            max_size=capacity if single else capacity * 2,
            desired_capacity=capacity,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest"),
            target_group_arns=list(target_group_arns),
            health_check_type="ELB" if target_group_arns else "EC2",
            health_check_grace_period=900,  # model loading takes minutes
            # `pulumi up` succeeds only once every VM serves through the load balancer: a VM whose system cannot
            # start (a failed migration job: its console names the job) fails the deployment instead of passing it.
            wait_for_elb_capacity=capacity if target_group_arns else None,
            wait_for_capacity_timeout="30m",  # first boot: images, the model pack, then the health grace
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=0 if single else 50
                ),
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
    def _trust_of(instance_role_arns: Sequence[str]) -> str:
        """Only the system's instance roles (its hosts) may assume the containers role."""
        principal: str | list[str] = instance_role_arns[0] if len(instance_role_arns) == 1 else list(instance_role_arns)
        statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal}}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    @staticmethod
    def _access_policy(
        secret_arns: Sequence[str],
        kms_key_arn: str,
        assumable: Sequence[str],
        attach: Sequence[str] = (),
        state_tags: Mapping[str, str] | None = None,
    ) -> str:
        # The runtime secret, then any database password RDS manages (read at boot and by the rotation check).
        secrets: str | list[str] = secret_arns[0] if len(secret_arns) == 1 else list(secret_arns)
        statements: list[dict] = [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": kms_key_arn},
        ]
        if assumable:
            statements.append({"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": list(assumable)})
        if attach:
            volume_arn, instance_arns = attach
            # AttachVolume is authorised on the volume and on the instance: this volume only, and only to an
            # instance tagged as this stack's system's state VM (none of the VM's roles may tag instances).
            on_tags = {f"aws:ResourceTag/{k}": v for k, v in sorted((state_tags or {}).items())}
            statements += [
                {"Effect": "Allow", "Action": ["ec2:AttachVolume"], "Resource": volume_arn},
                {
                    "Effect": "Allow",
                    "Action": ["ec2:AttachVolume"],
                    "Resource": instance_arns,
                    "Condition": {"StringEquals": on_tags},
                },
                # Describe calls take no resource or tag scoping in IAM.
                {"Effect": "Allow", "Action": ["ec2:DescribeVolumes"], "Resource": "*"},
            ]
        return json.dumps({"Version": "2012-10-17", "Statement": statements})
