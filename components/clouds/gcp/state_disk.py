"""``GcpStateDisk``: the persistent disk that holds one system's state, outliving its VMs, and its snapshots."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

# The name the managed instance group attaches the disk under; the VM sees /dev/disk/by-id/google-<name>.
DEVICE_NAME = "clinical-state"
SNAPSHOT_START = "03:00"  # daily, UTC, outside clinic hours


def attach_lines() -> str:
    """The group attaches the disk itself (per-instance preserved state): the VM only names its device."""
    return f"device=/dev/disk/by-id/google-{DEVICE_NAME}\n"


class GcpStateDisk(pulumi.ComponentResource):
    """One zonal pd-balanced disk per system holding its state volumes, attached by the state VM's group.

    Its own resource, so replacing a VM (a new instance template, new user
    data, autohealing) never touches it: none of its inputs comes from a VM.
    Encrypted with the stack's disk key (CMEK), ``protect``-ed where the
    resilience profile protects. A snapshot schedule takes a snapshot
    daily, stored in the region and kept ``backup_days`` (kept, too, when
    the disk is deleted).
    """

    disk: gcp.compute.Disk
    zone: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        region: str,
        size_gb: int,
        kms_key_id: pulumi.Input[str],
        backup_days: int,
        protect: bool,
        labels: Mapping[str, str],
        after: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:StateDisk", name, None, opts)
        labels = {**labels, "role": "state"}
        # The region's first zone that is up, as the cloud lists them (not every region has an "-a" zone).
        zones = gcp.compute.get_zones_output(
            project=project, region=region, status="UP", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.zone: pulumi.Output[str] = zones.names.apply(lambda names: sorted(names)[0])
        schedule = gcp.compute.ResourcePolicy(
            f"{name}-state-snapshots",
            project=project,
            region=region,
            description=f"Daily snapshots of {name}'s state disk, kept {backup_days} days",
            snapshot_schedule_policy=gcp.compute.ResourcePolicySnapshotSchedulePolicyArgs(
                schedule=gcp.compute.ResourcePolicySnapshotSchedulePolicyScheduleArgs(
                    daily_schedule=gcp.compute.ResourcePolicySnapshotSchedulePolicyScheduleDailyScheduleArgs(
                        days_in_cycle=1, start_time=SNAPSHOT_START
                    )
                ),
                retention_policy=gcp.compute.ResourcePolicySnapshotSchedulePolicyRetentionPolicyArgs(
                    max_retention_days=backup_days, on_source_disk_delete="KEEP_AUTO_SNAPSHOTS"
                ),
                snapshot_properties=gcp.compute.ResourcePolicySnapshotSchedulePolicySnapshotPropertiesArgs(
                    storage_locations=region, labels=labels
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.disk = gcp.compute.Disk(
            f"{name}-state",
            project=project,
            zone=self.zone,
            type="pd-balanced",
            size=size_gb,
            disk_encryption_key=gcp.compute.DiskDiskEncryptionKeyArgs(kms_key_self_link=kms_key_id),
            resource_policies=[schedule.id],
            labels=labels,
            description=f"State of {name} (its single writers' volumes); outlives every VM",
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=after),
        )
        self.register_outputs({"disk": self.disk.id})
