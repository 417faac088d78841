"""``AwsStateDisk``: the EBS volume that holds one system's state, outliving its VMs, and its AWS Backup plan."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.clouds.aws.backup_plan import daily_backup

DEVICE_NAME = "/dev/sdf"  # the name the attachment asks for; Nitro VMs show the volume as an NVMe device


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
        daily_backup(
            f"{name}-state",
            kms_key_arn=kms_key_arn,
            backup_days=backup_days,
            protect=protect,
            tags=tags,
            resources=[self.volume.arn],
            parent=self,
        )
        self.register_outputs({"volumeId": self.volume.id})
