"""``daily_backup``: a daily AWS Backup plan into a vault encrypted with the stack key, locked where data is kept.

One shape for every AWS state that is not a managed data store: a state VM's
EBS volume (selected by ARN) and the volumes the EKS CSI driver creates for
claims (selected by the tag their StorageClass gives them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import service_role_trust

BACKUP_SCHEDULE = "cron(0 3 * * ? *)"  # daily at 03:00 UTC, outside clinic hours
BACKUP_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
LOCK_CHANGEABLE_DAYS = 3  # the lock can be lifted for 3 days after it is set, then never (compliance mode)


def daily_backup(
    prefix: str,
    *,
    kms_key_arn: pulumi.Input[str],
    backup_days: int,
    protect: bool,
    tags: Mapping[str, str],
    resources: Sequence[pulumi.Input[str]],
    tag: tuple[str, str] | None = None,
    parent: pulumi.Resource,
) -> aws.backup.Selection:
    """Back ``resources`` up daily into ``<prefix>-vault``, kept ``backup_days`` days.

    ``resources`` are ARNs or ARN patterns; with ``tag`` (key, value) only the
    resources carrying that tag among them are selected (AWS Backup ANDs a
    selection's resources and its conditions). The vault is encrypted with the
    stack key and ``protect``-ed where the resilience profile protects; there
    it is also locked (compliance mode after 3 days), so no one, the account
    root included, deletes a recovery point before ``backup_days``. Returns the
    selection (the resource that says what is backed up).
    """
    child = pulumi.ResourceOptions(parent=parent)
    vault = aws.backup.Vault(
        f"{prefix}-vault",
        kms_key_arn=kms_key_arn,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    if protect:
        aws.backup.VaultLockConfiguration(
            f"{prefix}-vault-lock",
            backup_vault_name=vault.name,
            min_retention_days=backup_days,
            max_retention_days=backup_days,
            changeable_for_days=LOCK_CHANGEABLE_DAYS,
            opts=child,
        )
    plan = aws.backup.Plan(
        f"{prefix}-backup",
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
        tags=dict(tags),
        opts=child,
    )
    role = aws.iam.Role(
        f"{prefix}-backup",
        assume_role_policy=service_role_trust("backup.amazonaws.com"),
        tags=dict(tags),
        opts=child,
    )
    aws.iam.RolePolicyAttachment(f"{prefix}-backup", role=role.name, policy_arn=BACKUP_POLICY, opts=child)
    conditions = None
    if tag is not None:
        conditions = [
            aws.backup.SelectionConditionArgs(
                string_equals=[
                    aws.backup.SelectionConditionStringEqualArgs(key=f"aws:ResourceTag/{tag[0]}", value=tag[1])
                ]
            )
        ]
    return aws.backup.Selection(
        f"{prefix}-backup",
        name=prefix[:50],
        plan_id=plan.id,
        iam_role_arn=role.arn,
        resources=list(resources),
        conditions=conditions,
        opts=child,
    )
