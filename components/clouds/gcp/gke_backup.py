"""``namespace_backup``: Backup for GKE of one system's namespace, its volume data included, and its restore plan.

Backup for GKE rather than a snapshot schedule: a claim's disk is created by
the PD CSI driver when its first pod is scheduled, so no resource the
program registers could carry a schedule (a resource policy attaches to a
disk by name); Backup for GKE selects the namespace, snapshots every claim's
disk and keeps the claims and workloads beside them, so a restore brings
back a namespace whose claims are bound to the restored disks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

API = "gkebackup.googleapis.com"
BACKUP_CRON = "0 3 * * *"  # daily at 03:00 UTC, outside clinic hours (Backup for GKE's cron runs in UTC)
PLAN_NAME_MAX = 63


def backup_agent(project_number: str) -> str:
    """The Backup for GKE service agent (IAM member): it encrypts a plan's backups with the plan's key."""
    return f"serviceAccount:service-{project_number}@gcp-sa-gkebackup.iam.gserviceaccount.com"


def plan_name(stack: str, system: str) -> str:
    """A backup or restore plan's name (unique per project and region, so the stack's name is in it)."""
    return f"{stack}-{system}"[:PLAN_NAME_MAX].rstrip("-")


def namespace_backup(
    name: str,
    *,
    stack: str,
    project: str,
    region: str,
    cluster_id: pulumi.Input[str],
    namespace: str,
    key_id: pulumi.Input[str],
    backup_days: int,
    protect: bool,
    labels: Mapping[str, str],
    after: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> tuple[gcp.gkebackup.BackupPlan, gcp.gkebackup.RestorePlan]:
    """A daily backup of ``namespace`` with its claims' volume data, kept ``backup_days`` days, and the plan that
    restores it in place.

    Encrypted with ``key_id`` (the stack's disk key: the volume backups keep
    the key of the disks they copy, so the config backup uses the same one).
    Secrets are left out: they come from the Pulumi stack (``pulumi up``
    re-creates them), so a backup holds no credentials. Where the
    resilience profile protects, each backup cannot be deleted before
    ``backup_days`` and the plan is ``protect``-ed (the counterpart of the
    AWS vault lock).
    """
    plan = gcp.gkebackup.BackupPlan(
        f"{name}-state-backup",
        name=plan_name(stack, name),
        project=project,
        location=region,
        cluster=cluster_id,
        description=f"Daily backup of namespace {namespace} with its volumes, kept {backup_days} days",
        backup_config=gcp.gkebackup.BackupPlanBackupConfigArgs(
            selected_namespaces=gcp.gkebackup.BackupPlanBackupConfigSelectedNamespacesArgs(namespaces=[namespace]),
            include_volume_data=True,
            include_secrets=False,
            encryption_key=gcp.gkebackup.BackupPlanBackupConfigEncryptionKeyArgs(gcp_kms_encryption_key=key_id),
        ),
        backup_schedule=gcp.gkebackup.BackupPlanBackupScheduleArgs(cron_schedule=BACKUP_CRON),
        retention_policy=gcp.gkebackup.BackupPlanRetentionPolicyArgs(
            backup_retain_days=backup_days, backup_delete_lock_days=backup_days if protect else 0
        ),
        labels=dict(labels),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=list(after)),
    )
    restore = gcp.gkebackup.RestorePlan(
        f"{name}-state-restore",
        name=plan_name(stack, name),
        project=project,
        location=region,
        cluster=cluster_id,
        backup_plan=plan.id,
        description=f"Restores namespace {namespace} and its volumes from a backup of {plan_name(stack, name)}",
        restore_config=gcp.gkebackup.RestorePlanRestoreConfigArgs(
            selected_namespaces=gcp.gkebackup.RestorePlanRestoreConfigSelectedNamespacesArgs(namespaces=[namespace]),
            # The namespace's current resources are deleted, then the backup's restored (claims with their data).
            namespaced_resource_restore_mode="DELETE_AND_RESTORE",
            volume_data_restore_policy="RESTORE_VOLUME_DATA_FROM_BACKUP",
            cluster_resource_restore_scope=gcp.gkebackup.RestorePlanRestoreConfigClusterResourceRestoreScopeArgs(
                no_group_kinds=True
            ),
        ),
        labels=dict(labels),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return plan, restore
