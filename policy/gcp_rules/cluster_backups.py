"""Backup for GKE: a backup plan copies its namespaces' volumes daily, encrypted with the stack's key, kept long
enough."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_prod, number, truthy
from policy.gcp_rules.tokens import GKE_BACKUP_PLAN
from policy.rule import HIPAA, CheckContext, Rule


def check_gke_backup_plan(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    config = props.get("backupConfig") or {}
    if not truthy(config.get("includeVolumeData")):
        yield f"{ctx.name} backs up the claims but not their data (includeVolumeData is off)"
    if not (config.get("encryptionKey") or {}).get("gcpKmsEncryptionKey"):
        yield f"{ctx.name} encrypts its backups with a Google-managed key, not the stack's key (encryptionKey unset)"
    schedule = props.get("backupSchedule") or {}
    if truthy(schedule.get("paused")) or not (schedule.get("cronSchedule") or schedule.get("rpoConfig")):
        yield f"{ctx.name} takes no scheduled backups (backupSchedule has no cronSchedule or is paused)"
    kept = int(number((props.get("retentionPolicy") or {}).get("backupRetainDays")))
    floor = 30 if is_prod(props, ctx) else 7
    if kept < floor:
        yield f"{ctx.name} keeps backups {kept or 'forever (unset)'} days; keep {floor} to 365"


GKE_BACKUP_PLAN_RULE = Rule(
    name="gcp-gke-backup",
    family="data-protection",
    severity="high",
    description="A Backup for GKE plan takes scheduled backups with volume data, encrypted with the stack's "
    "customer-managed key, kept 7 days (30 in prod).",
    remediation="Set backup_config {include_volume_data, encryption_key.gcp_kms_encryption_key}, "
    "backup_schedule.cron_schedule and retention_policy.backup_retain_days, and grant the Backup for GKE service "
    "agent encrypter/decrypter on the key (no checkov equivalent).",
    hipaa=HIPAA["contingency"],
    resource_types=(GKE_BACKUP_PLAN,),
    check=check_gke_backup_plan,
    nist="NIST 800-53 CP-9",
)
