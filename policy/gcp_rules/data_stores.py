"""Managed data stores: Cloud SQL instances and Memorystore for Redis.

Defaults matter here: an unset ``ipv4Enabled`` gives Cloud SQL a public
address, an unset ``sslMode`` accepts plaintext, an unset Redis
``transitEncryptionMode`` is DISABLED and ``tier`` is BASIC. Every check
reads a missing value as the provider's default, not as compliant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import WORLD, explicitly_false, is_prod, number, truthy
from policy.gcp_rules.tokens import REDIS, SQL_INSTANCE
from policy.rule import HIPAA, CheckContext, Rule

TLS_SSL_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
# CIS GCP 6.2.x: connection, disconnection, checkpoint and lock-wait logging (checkov CKV_GCP_51-54).
AUDIT_FLAGS = ("log_connections", "log_disconnections", "log_checkpoints", "log_lock_waits")
PGAUDIT_FLAG = "cloudsql.enable_pgaudit"


def _settings(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return props.get("settings") or {}


def _ip(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return _settings(props).get("ipConfiguration") or {}


def _is_postgres(props: Mapping[str, Any]) -> bool:
    return str(props.get("databaseVersion") or "").upper().startswith("POSTGRES")


def _flags(props: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(f.get("name")): str(f.get("value")).strip().lower()
        for f in _settings(props).get("databaseFlags") or []
        if f
    }


def check_sql_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    ip = _ip(props)
    mode = ip.get("sslMode")
    if mode:
        if str(mode) not in TLS_SSL_MODES:
            yield f"{ctx.name} has sslMode {mode}, which accepts unencrypted connections"
    elif "requireSsl" in ip:  # the field older providers had; sslMode replaced it
        if not truthy(ip.get("requireSsl")):
            yield f"{ctx.name} sets requireSsl false, so clients may connect without TLS"
    else:
        yield f"{ctx.name} sets no sslMode, so it accepts unencrypted connections (ALLOW_UNENCRYPTED_AND_ENCRYPTED)"


def check_sql_private(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    ip = _ip(props)
    if not explicitly_false(ip.get("ipv4Enabled")):
        why = "ipv4Enabled is true" if "ipv4Enabled" in ip else "ipv4Enabled is unset, which defaults to true"
        yield f"{ctx.name} has a public IP address ({why})"
    for network in ip.get("authorizedNetworks") or []:
        value = str((network or {}).get("value") or "")
        if value in WORLD or value.endswith("/0"):
            yield f"{ctx.name} authorizes {value} ({network.get('name') or 'unnamed'}): the whole internet"


def check_sql_backups(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("masterInstanceName"):
        return  # a read replica takes no backups of its own; its primary does
    backup = _settings(props).get("backupConfiguration") or {}
    if not truthy(backup.get("enabled")):
        yield f"{ctx.name} takes no automated backups (backupConfiguration.enabled is off)"
    version = str(props.get("databaseVersion") or "").upper()
    if version.startswith("MYSQL"):
        if not truthy(backup.get("binaryLogEnabled")):
            yield f"{ctx.name} has no point-in-time recovery (binaryLogEnabled is off)"
    elif not truthy(backup.get("pointInTimeRecoveryEnabled")):
        plus = str(_settings(props).get("edition") or "").upper() == "ENTERPRISE_PLUS"
        if not (plus and "pointInTimeRecoveryEnabled" not in backup):  # Enterprise Plus turns it on by default
            yield f"{ctx.name} has no point-in-time recovery (pointInTimeRecoveryEnabled is off)"
    retention = backup.get("backupRetentionSettings") or {}
    kept = int(number(retention.get("retainedBackups"), 7))  # one a day; 7 is Cloud SQL's default
    floor = 30 if is_prod(props, ctx) else 7
    if truthy(backup.get("enabled")) and kept < floor:
        yield f"{ctx.name} keeps {kept} backups; keep at least {floor}"


def check_sql_cmek(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("encryptionKeyName"):
        yield f"{ctx.name} is encrypted with a Google-managed key, not the stack's customer-managed key"


def check_sql_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not is_prod(props, ctx):
        return
    settings = _settings(props)
    if str(settings.get("availabilityType") or "ZONAL") != "REGIONAL":
        yield f"{ctx.name} is ZONAL in prod (no standby in a second zone)"
    if not truthy(settings.get("deletionProtectionEnabled")):
        yield f"{ctx.name} has no Cloud SQL deletion protection in prod (settings.deletionProtectionEnabled)"
    if explicitly_false(props.get("deletionProtection")):
        yield f"{ctx.name} lets Pulumi delete it in prod (deletionProtection false)"


def check_sql_audit_flags(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _is_postgres(props):
        return
    flags = _flags(props)
    missing = [f for f in AUDIT_FLAGS if flags.get(f) != "on"]
    if missing:
        yield f"{ctx.name} does not set the database flags {missing} to on"


def check_sql_pgaudit(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _is_postgres(props) and _flags(props).get(PGAUDIT_FLAG) != "on":
        yield f"{ctx.name} does not enable pgAudit ({PGAUDIT_FLAG} = on), so statements are not audited"


def check_redis_tls_auth(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    mode = str(props.get("transitEncryptionMode") or "DISABLED")
    if mode != "SERVER_AUTHENTICATION":
        yield f"{ctx.name} accepts unencrypted connections (transitEncryptionMode is {mode})"
    if not truthy(props.get("authEnabled")):
        yield f"{ctx.name} has AUTH disabled: anyone on the network can use it"


def check_redis_cmek(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("customerManagedKey"):
        yield f"{ctx.name} is encrypted with a Google-managed key, not the stack's customer-managed key"


def check_redis_private(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    mode = str(props.get("connectMode") or "DIRECT_PEERING")
    if mode != "PRIVATE_SERVICE_ACCESS":
        yield f"{ctx.name} connects by {mode}; use PRIVATE_SERVICE_ACCESS on the stack's network"
    if not props.get("authorizedNetwork"):
        yield f"{ctx.name} names no authorizedNetwork, so it joins the project's default network"


def check_redis_resilience(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    persistence = props.get("persistenceConfig") or {}
    # An instance that evicts any key under memory pressure (allkeys-*) is a cache by its own settings:
    # its data can vanish at any time, so there is nothing a snapshot would protect.
    evicts_anything = str((props.get("redisConfigs") or {}).get("maxmemory-policy", "")).startswith("allkeys-")
    if not evicts_anything and str(persistence.get("persistenceMode") or "DISABLED") != "RDB":
        yield f"{ctx.name} keeps no RDB snapshots (persistenceConfig.persistenceMode is not RDB)"
    if is_prod(props, ctx) and str(props.get("tier") or "BASIC") != "STANDARD_HA":
        yield f"{ctx.name} is {props.get('tier') or 'BASIC'} tier in prod: no replica to fail over to"


SQL_TLS_REQUIRED = Rule(
    name="gcp-sql-tls-required",
    family="tls",
    severity="critical",
    description="Cloud SQL accepts TLS connections only.",
    remediation="Set settings.ip_configuration.ssl_mode = ENCRYPTED_ONLY (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED for mTLS) (checkov CKV_GCP_6).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_tls,
    nist="NIST 800-53 SC-8",
)
SQL_NOT_PUBLIC = Rule(
    name="gcp-sql-not-public",
    family="firewall",
    severity="critical",
    description="Cloud SQL has no public IP address and authorizes no network open to the internet.",
    remediation="Set settings.ip_configuration.ipv4_enabled = false with private_network (private services access); never authorize 0.0.0.0/0 (checkov CKV_GCP_60, CKV_GCP_11).",
    hipaa=HIPAA["access-control"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_private,
    nist="NIST 800-53 SC-7",
)
SQL_BACKUPS = Rule(
    name="gcp-sql-backups",
    family="data-protection",
    severity="high",
    description="Cloud SQL takes automated backups with point-in-time recovery, kept 7 days (30 in prod).",
    remediation="Set settings.backup_configuration {enabled, point_in_time_recovery_enabled (binary_log_enabled on MySQL), backup_retention_settings.retained_backups} (checkov CKV_GCP_14, CKV2_GCP_20).",
    hipaa=HIPAA["contingency"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_backups,
    nist="NIST 800-53 CP-9",
)
SQL_CMEK = Rule(
    name="gcp-sql-cmek",
    family="encryption",
    severity="high",
    description="Cloud SQL is encrypted with the stack's customer-managed KMS key.",
    remediation="Set encryption_key_name to the stack's Cloud KMS key and grant the Cloud SQL service agent encrypter/decrypter on it (no checkov equivalent).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_cmek,
    nist="NIST 800-53 SC-12",
)
SQL_PROD_PROTECTION = Rule(
    name="gcp-sql-prod-protection",
    family="data-protection",
    severity="high",
    description="In prod, Cloud SQL is REGIONAL (standby in a second zone) and deletion-protected in GCP and in Pulumi.",
    remediation="Set settings.availability_type = REGIONAL, settings.deletion_protection_enabled = true and keep deletion_protection = true (no checkov equivalent).",
    hipaa=HIPAA["contingency"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_prod,
    nist="NIST 800-53 CP-10",
)
SQL_AUDIT_FLAGS = Rule(
    name="gcp-sql-audit-flags",
    family="audit",
    severity="medium",
    description="PostgreSQL logs connections, disconnections, checkpoints and lock waits (the CIS database flags).",
    remediation="Add settings.database_flags log_connections, log_disconnections, log_checkpoints and log_lock_waits = on (checkov CKV_GCP_51-54).",
    hipaa=HIPAA["audit"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_audit_flags,
    nist="NIST 800-53 AU-12",
)
SQL_PGAUDIT = Rule(
    name="gcp-sql-pgaudit",
    family="audit",
    severity="low",
    description="PostgreSQL audits statements with pgAudit.",
    remediation="Add the database flag cloudsql.enable_pgaudit = on and pgaudit.log, then CREATE EXTENSION pgaudit (checkov CKV_GCP_110).",
    hipaa=HIPAA["audit"],
    resource_types=(SQL_INSTANCE,),
    check=check_sql_pgaudit,
    nist="NIST 800-53 AU-12",
    default_enforcement="advisory",
)
REDIS_TLS_AUTH = Rule(
    name="gcp-redis-tls-auth",
    family="tls",
    severity="critical",
    description="Memorystore for Redis requires TLS and AUTH.",
    remediation="Set transit_encryption_mode = SERVER_AUTHENTICATION (give clients the server CA) and auth_enabled = true; both replace the instance (checkov CKV_GCP_97, CKV_GCP_95).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(REDIS,),
    check=check_redis_tls_auth,
    nist="NIST 800-53 SC-8",
)
REDIS_CMEK = Rule(
    name="gcp-redis-cmek",
    family="encryption",
    severity="high",
    description="Memorystore for Redis is encrypted with the stack's customer-managed KMS key.",
    remediation="Set customer_managed_key to the stack's Cloud KMS key and grant the Memorystore service agent encrypter/decrypter on it (no checkov equivalent).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(REDIS,),
    check=check_redis_cmek,
    nist="NIST 800-53 SC-12",
)
REDIS_PRIVATE = Rule(
    name="gcp-redis-private",
    family="firewall",
    severity="high",
    description="Memorystore for Redis is reached by private services access on the stack's own network.",
    remediation="Set connect_mode = PRIVATE_SERVICE_ACCESS and authorized_network to the stack's VPC (no checkov equivalent).",
    hipaa=HIPAA["access-control"],
    resource_types=(REDIS,),
    check=check_redis_private,
    nist="NIST 800-53 SC-7",
)
REDIS_RESILIENCE = Rule(
    name="gcp-redis-resilience",
    family="data-protection",
    severity="medium",
    description="Memorystore for Redis keeps RDB snapshots; in prod it is STANDARD_HA (a replica in another zone).",
    remediation="Set persistence_config {persistence_mode = RDB, rdb_snapshot_period}, and tier = STANDARD_HA in prod (no checkov equivalent).",
    hipaa=HIPAA["contingency"],
    resource_types=(REDIS,),
    check=check_redis_resilience,
    nist="NIST 800-53 CP-9",
)
