"""``AwsStateDisk``: the EBS volume that holds one system's state, outliving its VMs, and its AWS Backup plan."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import service_role_trust

DEVICE_NAME = "/dev/sdf"  # the name the attachment asks for; Nitro VMs show the volume as an NVMe device
BACKUP_SCHEDULE = "cron(0 3 * * ? *)"  # daily at 03:00 UTC, outside clinic hours
BACKUP_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
LOCK_CHANGEABLE_DAYS = 3  # the lock can be lifted for 3 days after it is set, then never (compliance mode)


def attach_lines(volume_id: str, region: str) -> str:
    """Shell lines the state VM runs at boot: attach the volume to itself (waiting while the VM it replaces lets
    go of it) and leave the NVMe device's path in ``$device``."""
    metadata = "http://169.254.169.254/latest"
    return f"""volume='{volume_id}'
token=$(curl -fsS -X PUT {metadata}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" {metadata}/meta-data/instance-id)
holder=$(aws ec2 describe-volumes --region {region} --volume-ids "$volume" \\
  --query 'Volumes[0].Attachments[0].InstanceId' --output text)
if [ "$holder" != "$instance" ]; then
  # The VM this one replaces may still be shutting down: wait (up to 10 minutes) until it lets go.
  aws ec2 wait volume-available --region {region} --volume-ids "$volume"
  aws ec2 attach-volume --region {region} --volume-id "$volume" --instance-id "$instance" --device {DEVICE_NAME}
  aws ec2 wait volume-in-use --region {region} --volume-ids "$volume"
fi
device="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${{volume//-/}}"
"""


class AwsStateDisk(pulumi.ComponentResource):
    """One gp3 EBS volume per system holding its state volumes, attached by the state VM at boot.

    Its own resource, so replacing a VM (a new launch template, new user
    data, an unhealthy instance) never touches it: none of its inputs comes
    from a VM. Encrypted with the stack's KMS key, ``protect``-ed where the
    resilience profile protects. Backed up daily by AWS Backup into a vault
    encrypted with the same key, kept ``backup_days``; where the profile
    protects, the vault is locked (compliance mode after 3 days) so no one,
    the account root included, deletes a recovery point before then.
    """

    volume: aws.ebs.Volume

    def __init__(
        self,
        name: str,
        *,
        zone: pulumi.Input[str],
        size_gb: int,
        kms_key_arn: pulumi.Input[str],
        backup_days: int,
        protect: bool,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:StateDisk", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=protect)
        tags = {**tags, "role": "state"}
        self.volume = aws.ebs.Volume(
            f"{name}-state",
            availability_zone=zone,
            size=size_gb,
            type="gp3",
            encrypted=True,
            kms_key_id=kms_key_arn,
            final_snapshot=protect,
            tags=tags,
            opts=kept,
        )
        vault = aws.backup.Vault(f"{name}-state-vault", kms_key_arn=kms_key_arn, tags=tags, opts=kept)
        if protect:
            aws.backup.VaultLockConfiguration(
                f"{name}-state-vault-lock",
                backup_vault_name=vault.name,
                min_retention_days=backup_days,
                max_retention_days=backup_days,
                changeable_for_days=LOCK_CHANGEABLE_DAYS,
                opts=child,
            )
        plan = aws.backup.Plan(
            f"{name}-state-backup",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=vault.name,
                    schedule=BACKUP_SCHEDULE,
                    start_window=60,
                    completion_window=360,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=backup_days),
                )
            ],
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-state-backup",
            assume_role_policy=service_role_trust("backup.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-state-backup", role=role.name, policy_arn=BACKUP_POLICY, opts=child)
        aws.backup.Selection(
            f"{name}-state-backup",
            name=f"{name}-state"[:50],
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[self.volume.arn],
            opts=child,
        )
        self.register_outputs({"volumeId": self.volume.id})
