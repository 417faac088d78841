"""AWS Backup: EBS volumes selected by a plan, plans that run and keep recovery points, locked vaults.

RDS is backed up by its own automated backups (``aws-rds-backup-retention``);
what AWS Backup protects here are EBS volumes, which have no backup of their
own. The selection is judged by what it names (the volume's ARN, an ARN
pattern, or tags the volume carries), never by the volume's own tags.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import known, known_strings, prod_grade, refers_to, tags_of
from policy.aws_rules.tokens import BACKUP_PLAN, BACKUP_SELECTION, BACKUP_VAULT, BACKUP_VAULT_LOCK, EBS_VOLUME
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

# Days a recovery point is kept at least: the floor of aws-rds-backup-retention, for the same data.
MIN_DAYS, PROD_GRADE_DAYS = 7, 30


def check_backup_plan(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    why = prod_grade(props, ctx)
    floor = PROD_GRADE_DAYS if why else MIN_DAYS
    rules = [r for r in props.get("rules") or [] if r]
    if not rules:
        yield f"{ctx.name} has no rules: it backs nothing up"
    for rule in rules:
        label = f"{ctx.name} rule '{rule.get('ruleName') or '?'}'"
        if not rule.get("schedule"):
            yield f"{label} has no schedule: it runs only when started by hand"
        days = (rule.get("lifecycle") or {}).get("deleteAfter")
        # No lifecycle keeps recovery points forever, which is more than the floor.
        if days is not None and int(days) < floor:
            yield f"{label} keeps recovery points {int(days)} days; keep at least {floor}{f' {why}' if why else ''}"


def _selects(selection: StackResource, volume: StackResource) -> bool:
    """True when the selection names the volume: its ARN (or an output of it), an ARN pattern, or its tags."""
    if refers_to(selection, "resources", volume):
        return True
    patterns = known_strings(selection.props, "resources") or []
    arn = known(volume.props, "arn")
    if any(p == "*" or (arn and fnmatch.fnmatchcase(str(arn), p)) or p.endswith(":volume/*") for p in patterns):
        return True
    tags = tags_of(volume.props)
    for tag in known(selection.props, "selectionTags") or []:
        tag = tag or {}
        if str(tag.get("type") or "").upper() == "STRINGEQUALS" and tags.get(str(tag.get("key"))) == str(
            tag.get("value")
        ):
            return True
    return False


def check_ebs_in_backup_plan(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Each EBS volume is selected by an AWS Backup selection of the stack."""
    selections = [r for r in resources if r.resource_type == BACKUP_SELECTION]
    for volume in (r for r in resources if r.resource_type == EBS_VOLUME):
        if not any(_selects(s, volume) for s in selections):
            yield volume.urn, f"{volume.name} is in no AWS Backup plan: a lost or corrupted volume cannot be restored"


def check_vault_locked(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A protected vault (state that must not be deleted by accident) is locked, so recovery points outlive
    anyone's wish to delete them early."""
    locks = [r for r in resources if r.resource_type == BACKUP_VAULT_LOCK]
    for vault in (r for r in resources if r.resource_type == BACKUP_VAULT and r.protect):
        mine = [lock for lock in locks if refers_to(lock, "backupVaultName", vault, "name")]
        if not mine:
            yield (
                vault.urn,
                f"{vault.name} is protected but not locked: anyone with backup:DeleteRecoveryPoint can delete its "
                "recovery points before their time",
            )
        for lock in mine:
            if int(known(lock.props, "minRetentionDays") or 0) < 1:
                yield vault.urn, f"{vault.name}'s lock {lock.name} sets no minimum retention, so it holds nothing"


BACKUP_PLAN_RETENTION = Rule(
    name="aws-backup-plan-retention",
    family="data-protection",
    severity="high",
    description="AWS Backup plans run on a schedule and keep recovery points 7 days (30 in prod or holding PHI).",
    remediation="Give every plan rule a schedule (cron) and lifecycle.delete_after >= 7 (30 in prod or with PHI; "
    "the platform uses resilience.backupDays).",
    hipaa=HIPAA["contingency"],
    resource_types=(BACKUP_PLAN,),
    check=check_backup_plan,
    nist="NIST 800-53 CP-9",
)
EBS_IN_BACKUP_PLAN = StackRule(
    name="aws-ebs-in-backup-plan",
    family="data-protection",
    severity="high",
    description="Every EBS volume the stack creates is selected by an AWS Backup plan of the stack.",
    remediation="Add an aws.backup.Selection of a daily plan whose resources list the volume's ARN (the platform's "
    "AwsStateDisk does) (checkov CKV2_AWS_9, cdk-nag HIPAA.Security-EC2EBSInBackupPlan).",
    hipaa=HIPAA["contingency"],
    resource_types=(EBS_VOLUME,),
    check=check_ebs_in_backup_plan,
    nist="NIST 800-53 CP-9",
)
BACKUP_VAULT_LOCKED = StackRule(
    name="aws-backup-vault-locked",
    family="data-protection",
    severity="high",
    description="A backup vault created with protect=True has a vault lock with a minimum retention.",
    remediation="Add an aws.backup.VaultLockConfiguration with min_retention_days (the backup days) and "
    "changeable_for_days (compliance mode once it passes); the platform's AwsStateDisk does where the resilience "
    "profile protects.",
    hipaa=HIPAA["integrity"],
    resource_types=(BACKUP_VAULT,),
    check=check_vault_locked,
    nist="NIST 800-53 CP-9(8)",
)
