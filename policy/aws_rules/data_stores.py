"""Managed data stores: RDS PostgreSQL (and its parameter groups) and ElastiCache Redis."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import prod_grade, truthy
from policy.aws_rules.tokens import RDS, RDS_CLUSTER, RDS_PARAMS, REDIS
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule


def check_rds_private(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("publiclyAccessible")):
        yield f"{ctx.name} is publicly accessible"


def check_rds_force_ssl(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    family = str(props.get("family") or "")
    if not family.startswith("postgres"):
        return
    params = {str(p.get("name")): str(p.get("value")) for p in props.get("parameters") or [] if p}
    if params.get("rds.force_ssl") != "1":
        yield f"{ctx.name} does not set rds.force_ssl=1, so clients may connect without TLS"


def check_redis_transit(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy(props.get("transitEncryptionEnabled")):
        yield f"{ctx.name} accepts unencrypted connections (transitEncryptionEnabled is off)"
    if not props.get("authToken") and not props.get("userGroupIds"):
        yield f"{ctx.name} has no AUTH token or user group"


def check_rds_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy(props.get("storageEncrypted")):
        yield f"{ctx.name} storage is not encrypted"
    if truthy(props.get("performanceInsightsEnabled")) and not props.get("performanceInsightsKmsKeyId"):
        yield f"{ctx.name} Performance Insights is not encrypted with the stack key"


def check_redis_at_rest(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy(props.get("atRestEncryptionEnabled")):
        yield f"{ctx.name} is not encrypted at rest"


def check_rds_backups(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    days = int(props.get("backupRetentionPeriod") or 0)
    why = prod_grade(props, ctx)
    floor = 30 if why else 7
    if days < floor:
        yield f"{ctx.name} keeps backups {days} days; keep at least {floor}{f' {why}' if why else ''}"


def check_rds_prod_protection(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    why = prod_grade(props, ctx)
    if not why:
        return
    if not truthy(props.get("deletionProtection")):
        yield f"{ctx.name} has no deletion protection {why}"
    if truthy(props.get("skipFinalSnapshot")):
        yield f"{ctx.name} skips the final snapshot {why}"
    if not truthy(props.get("multiAz")):
        yield f"{ctx.name} is single-AZ {why}"


def check_redis_resilience(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if int(props.get("snapshotRetentionLimit") or 0) < 1:
        yield f"{ctx.name} keeps no snapshots"
    why = prod_grade(props, ctx)
    if why and not (truthy(props.get("automaticFailoverEnabled")) and truthy(props.get("multiAzEnabled"))):
        yield f"{ctx.name} has no automatic multi-AZ failover {why}"


def check_rds_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    exports = set(props.get("enabledCloudwatchLogsExports") or [])
    if "postgresql" not in exports:
        yield f"{ctx.name} does not export its PostgreSQL log to CloudWatch"


def check_rds_enhanced_monitoring(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    interval = int(props.get("monitoringInterval") or 0)
    if interval <= 0:
        yield f"{ctx.name} has no enhanced monitoring (monitoringInterval is 0): no OS metrics"
    elif not props.get("monitoringRoleArn"):
        yield f"{ctx.name} asks for enhanced monitoring every {interval}s without a monitoring role to deliver it"


def check_rds_minor_upgrades(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    # Unset is the provider's default, true.
    value = props.get("autoMinorVersionUpgrade")
    if value is not None and not truthy(value):
        yield f"{ctx.name} does not take minor version upgrades: security fixes wait for someone to apply them"


RDS_FORCE_SSL = Rule(
    name="aws-rds-force-ssl",
    family="tls",
    severity="critical",
    description="PostgreSQL parameter groups require TLS (rds.force_ssl=1).",
    remediation="Add the parameter rds.force_ssl = 1 to the instance's parameter group.",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(RDS_PARAMS,),
    check=check_rds_force_ssl,
    nist="NIST 800-53 SC-8",
)
ELASTICACHE_TRANSIT_ENCRYPTION = Rule(
    name="aws-elasticache-transit-encryption",
    family="tls",
    severity="critical",
    description="Redis requires TLS and an AUTH token.",
    remediation="Set transit_encryption_enabled and auth_token at creation (changing them later replaces the group; checkov CKV_AWS_30/31).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(REDIS,),
    check=check_redis_transit,
    nist="NIST 800-53 SC-8",
)
RDS_ENCRYPTED = Rule(
    name="aws-rds-encrypted",
    family="encryption",
    severity="critical",
    description="Database storage and Performance Insights are encrypted.",
    remediation="Set storage_encrypted and performance_insights_kms_key_id (checkov CKV_AWS_16, CKV_AWS_354).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(RDS, RDS_CLUSTER),
    check=check_rds_encrypted,
    nist="NIST 800-53 SC-28",
)
ELASTICACHE_AT_REST = Rule(
    name="aws-elasticache-at-rest",
    family="encryption",
    severity="critical",
    description="Redis data and snapshots are encrypted at rest.",
    remediation="Set at_rest_encryption_enabled with the stack key (checkov CKV_AWS_29).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(REDIS,),
    check=check_redis_at_rest,
    nist="NIST 800-53 SC-28",
)
RDS_NOT_PUBLIC = Rule(
    name="aws-rds-not-public",
    family="firewall",
    severity="critical",
    description="Databases are not publicly accessible.",
    remediation="Set publicly_accessible = false and use private subnets (checkov CKV_AWS_17).",
    hipaa=HIPAA["access-control"],
    resource_types=(RDS,),
    check=check_rds_private,
    nist="NIST 800-53 SC-7",
)
RDS_BACKUP_RETENTION = Rule(
    name="aws-rds-backup-retention",
    family="data-protection",
    severity="high",
    description="Database backups are kept 7 days (30 in prod or holding PHI).",
    remediation="Raise backup_retention_period (cdk-nag HIPAA.Security-RDSInBackupPlan).",
    hipaa=HIPAA["contingency"],
    resource_types=(RDS, RDS_CLUSTER),
    check=check_rds_backups,
    nist="NIST 800-53 CP-9",
)
RDS_PROD_PROTECTION = Rule(
    name="aws-rds-prod-protection",
    family="data-protection",
    severity="high",
    description="In prod, or holding PHI on any environment, databases are multi-AZ, deletion-protected and keep a "
    "final snapshot.",
    remediation="Set multi_az, deletion_protection and skip_final_snapshot = false (checkov CKV_AWS_157, CKV_AWS_293).",
    hipaa=HIPAA["contingency"],
    resource_types=(RDS,),
    check=check_rds_prod_protection,
    nist="NIST 800-53 CP-10",
)
ELASTICACHE_RESILIENCE = Rule(
    name="aws-elasticache-resilience",
    family="data-protection",
    severity="medium",
    description="Redis keeps snapshots; in prod or holding PHI it fails over across zones.",
    remediation="Set snapshot_retention_limit >= 1, and automatic_failover_enabled and multi_az_enabled in prod.",
    hipaa=HIPAA["contingency"],
    resource_types=(REDIS,),
    check=check_redis_resilience,
    nist="NIST 800-53 CP-9",
)
RDS_LOG_EXPORTS = Rule(
    name="aws-rds-log-exports",
    family="audit",
    severity="medium",
    description="Databases export their logs to CloudWatch.",
    remediation="Set enabled_cloudwatch_logs_exports = ['postgresql', 'upgrade'] (checkov CKV_AWS_129).",
    hipaa=HIPAA["audit"],
    resource_types=(RDS,),
    check=check_rds_logs,
    nist="NIST 800-53 AU-12",
)
RDS_ENHANCED_MONITORING = Rule(
    name="aws-rds-enhanced-monitoring",
    family="audit",
    severity="low",
    description="Databases have enhanced monitoring (OS metrics) with a monitoring role.",
    remediation="Set monitoring_interval (60) and monitoring_role_arn to a role trusted by monitoring.rds.amazonaws.com "
    "with AmazonRDSEnhancedMonitoringRole (checkov CKV_AWS_118, cdk-nag HIPAA.Security-RDSEnhancedMonitoringEnabled).",
    hipaa=HIPAA["audit"],
    resource_types=(RDS,),
    check=check_rds_enhanced_monitoring,
    nist="NIST 800-53 SI-4",
)
RDS_MINOR_UPGRADES = Rule(
    name="aws-rds-minor-upgrades",
    family="hardening",
    severity="medium",
    description="Databases take minor (security) version upgrades in their maintenance window.",
    remediation="Leave auto_minor_version_upgrade true, its default (checkov CKV_AWS_226, "
    "cdk-nag HIPAA.Security-RDSAutomaticMinorVersionUpgradeEnabled).",
    hipaa=HIPAA["malicious-software"],
    resource_types=(RDS,),
    check=check_rds_minor_upgrades,
    nist="NIST 800-53 SI-2",
)

# --- stack-level rules ----------------------------------------------------------------------


def check_rds_tls_enforced(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A database uses a parameter group of this stack that forces TLS (the default group does not say so)."""
    groups = {r.props.get("name"): r for r in resources if r.resource_type == RDS_PARAMS}
    for db in (r for r in resources if r.resource_type == RDS):
        group = groups.get(db.props.get("parameterGroupName"))
        if group is None or list(check_rds_force_ssl(group.props, CheckContext(name=group.name))):
            yield db.urn, f"{db.name} does not use a parameter group that sets rds.force_ssl=1"


RDS_TLS_ENFORCED = StackRule(
    name="aws-rds-tls-enforced",
    family="tls",
    severity="critical",
    description="Every database uses a parameter group of the stack that forces TLS.",
    remediation="Give the instance the ManagedPostgres parameter group (rds.force_ssl=1).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(RDS,),
    check=check_rds_tls_enforced,
    nist="NIST 800-53 SC-8",
)
