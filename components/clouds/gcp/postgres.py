"""``ManagedPostgres``: a system's PostgreSQL on Cloud SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.clouds.gcp.labels import gcp_labels
from components.database_roles import managed_app_user, managed_endpoint, monitor_user
from components.endpoints import PostgresEndpoint, PostgresLogin
from components.resilience import Resilience
from components.specs import PostgresSpec

# Cloud SQL Enterprise edition, dedicated cores. Prices: on-demand list price in europe-west2 (London), zonal,
# $0.0535 per vCPU-hour + $0.00905 per GiB-hour of memory (Cloud SQL for PostgreSQL SKUs 3E1A-85BB-7956 and
# A466-F7CB-DD13, price version 2026-08-01, as copied into the test fixture of mooncitizen/togen's GCP cost
# estimator on 2026-09-05; not checked against Google's live price list). REGIONAL (HA) bills each SKU twice.
VCPU_USD_PER_HOUR = 0.0535
MEMORY_USD_PER_GB_HOUR = 0.00905
INSTANCE_TIERS: dict[str, tuple[str, float]] = {
    "small": ("db-custom-1-3840", round(1 * VCPU_USD_PER_HOUR + 3.75 * MEMORY_USD_PER_GB_HOUR, 4)),
    "medium": ("db-custom-2-7680", round(2 * VCPU_USD_PER_HOUR + 7.5 * MEMORY_USD_PER_GB_HOUR, 4)),
    "large": ("db-custom-4-26624", round(4 * VCPU_USD_PER_HOUR + 26 * MEMORY_USD_PER_GB_HOUR, 4)),
}
# SSD storage, zonal, europe-west2 (SKU A025-9006-CE7C, same source); REGIONAL doubles it.
STORAGE_USD_PER_GB_MONTH = 0.204
MIN_DISK_GB = 10  # Cloud SQL's smallest disk
PITR_LOG_DAYS_MAX = 7  # Enterprise edition keeps at most 7 days of transaction logs

# What the CIS GCP benchmark (6.2.x) asks of Cloud SQL for PostgreSQL, as database flags.
CIS_FLAGS: dict[str, str] = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_checkpoints": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_min_messages": "warning",
    "log_min_error_statement": "error",
    "log_error_verbosity": "default",
    "log_statement": "ddl",
    # -1: never log statement text by duration; queries carry patient data in their parameters.
    "log_min_duration_statement": "-1",
    # pgAudit records DDL and role changes (not reads or writes, which would copy PHI into the logs).
    "cloudsql.enable_pgaudit": "on",
    "pgaudit.log": "ddl,role",
    "cloudsql.iam_authentication": "on",
}


def database_version(version: str) -> str:
    """Cloud SQL's name of a PostgreSQL major version: ``"16"`` or ``"16.4"`` -> ``POSTGRES_16``."""
    major = version.split(".")[0]
    if not major.isdigit():
        raise ValueError(f"'{version}' is not a PostgreSQL version")
    return f"POSTGRES_{major}"


def database_flags(spec: PostgresSpec) -> list[gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs]:
    """The CIS logging and audit flags plus the spec's connection limit."""
    flags = {**CIS_FLAGS, "max_connections": str(spec.max_connections)}
    return [gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=k, value=v) for k, v in flags.items()]


class ManagedPostgres(pulumi.ComponentResource):
    """PostgreSQL on Cloud SQL for one system, reachable only on the VPC and only over TLS.

    Secure defaults: private IP only through private services access (no
    public IPv4, no authorized networks); ``ssl_mode = ENCRYPTED_ONLY``;
    disks and backups encrypted with the stack's ``sql`` key (CMEK); daily
    backups kept ``backup_days`` with point-in-time recovery (transaction logs
    up to 7 days, Enterprise edition's maximum); from the stack's
    ``Resilience``: REGIONAL availability (a standby in another zone) with
    ``multi_az``, deletion protection both in GCP and in Pulumi, a final
    backup and backups kept after deletion with ``final_snapshot``, and
    ``protect`` on the instance and its database; the CIS logging flags and
    pgAudit for DDL and role changes; Query Insights without client addresses;
    a weekly maintenance window on the stable track; the disk grows on its own
    up to four times its size. The instance name is auto-generated because
    Cloud SQL blocks a deleted instance's name for a week. The system's user
    has a pulumi-random password, kept only as a secret. That built-in user
    (cloudsqlsuperuser: CREATEROLE, CREATEDB) is for the ``<db>-setup`` job
    only, which creates ``vector`` (no flag is needed) and the roles the
    services (``<user>_app``) and the exporter (``<user>_monitor``) log in as
    (``components/database_roles.py``); their generated passwords are kept in
    a ``<name>-roles`` secret with the stack's secrets key. Nothing rotates
    these passwords on a schedule.
    """

    endpoint: PostgresEndpoint

    def __init__(
        self,
        name: str,
        spec: PostgresSpec,
        *,
        project: pulumi.Input[str],
        region: str,
        network_id: pulumi.Input[str],
        private_services: pulumi.Resource,
        kms_key_id: pulumi.Input[str],
        secrets_kms_key_id: pulumi.Input[str],
        sizing: str,
        resilience: Resilience,
        labels: Mapping[str, str],
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:ManagedPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=resilience.protect)
        tier, _ = INSTANCE_TIERS[sizing]
        backup_days = spec.backup_retention_days or resilience.backup_days
        disk_gb = max(MIN_DISK_GB, spec.storage_gb)
        password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
        instance = gcp.sql.DatabaseInstance(
            f"{name}-db",
            project=project,
            region=region,
            database_version=database_version(spec.version),
            encryption_key_name=kms_key_id,
            deletion_protection=resilience.deletion_protection,
            settings=gcp.sql.DatabaseInstanceSettingsArgs(
                tier=tier,
                # db-custom tiers exist only in Enterprise; new PostgreSQL 16+ instances default to Enterprise Plus.
                edition="ENTERPRISE",
                availability_type="REGIONAL" if resilience.multi_az else "ZONAL",
                deletion_protection_enabled=resilience.deletion_protection,
                disk_type="PD_SSD",
                disk_size=disk_gb,
                disk_autoresize=True,
                disk_autoresize_limit=disk_gb * 4,
                ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False, private_network=network_id, ssl_mode="ENCRYPTED_ONLY"
                ),
                backup_configuration=gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                    enabled=True,
                    point_in_time_recovery_enabled=True,
                    start_time="02:00",
                    transaction_log_retention_days=min(backup_days, PITR_LOG_DAYS_MAX),
                    backup_retention_settings=gcp.sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                        retained_backups=backup_days, retention_unit="COUNT"
                    ),
                ),
                retain_backups_on_delete=resilience.final_snapshot,
                final_backup_config=gcp.sql.DatabaseInstanceSettingsFinalBackupConfigArgs(
                    enabled=True, retention_days=backup_days
                )
                if resilience.final_snapshot
                else None,
                database_flags=database_flags(spec),
                insights_config=gcp.sql.DatabaseInstanceSettingsInsightsConfigArgs(
                    query_insights_enabled=True,
                    query_string_length=1024,
                    record_application_tags=True,
                    record_client_address=False,
                ),
                maintenance_window=gcp.sql.DatabaseInstanceSettingsMaintenanceWindowArgs(
                    day=7, hour=3, update_track="stable"
                ),
                user_labels=gcp_labels(labels),
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect, depends_on=[private_services, *after]),
        )
        gcp.sql.Database(f"{name}-database", project=project, instance=instance.name, name=spec.database, opts=stateful)
        gcp.sql.User(
            f"{name}-user",
            project=project,
            instance=instance.name,
            name=spec.user,
            password=password.result,
            # The user owns the system's tables; Cloud SQL refuses to drop such a user, and deleting the
            # instance removes it anyway.
            deletion_policy="ABANDON",
            opts=child,
        )
        # The roles the services and the exporter log in as: generated, kept in Secret Manager with the stack's
        # secrets key for operators, and handed to the runtime like every other value.
        app = random.RandomPassword(f"{name}-app-password", length=40, special=False, opts=child)
        monitor = random.RandomPassword(f"{name}-monitor-password", length=40, special=False, opts=child)
        roles = gcp.secretmanager.Secret(
            f"{name}-roles",
            project=project,
            secret_id=f"{name}-roles",
            labels=gcp_labels(labels),
            replication=gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[
                        gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                            location=region,
                            customer_managed_encryption=gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(
                                kms_key_name=secrets_kms_key_id
                            ),
                        )
                    ]
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect, depends_on=list(after)),
        )
        gcp.secretmanager.SecretVersion(
            f"{name}-roles",
            secret=roles.id,
            # Secret: RandomPassword results are, and json_dumps keeps it.
            secret_data=pulumi.Output.json_dumps(
                {managed_app_user(spec): app.result, monitor_user(spec): monitor.result}
            ),
            opts=child,
        )
        master = PostgresLogin(spec.user, pulumi.Output.secret(password.result))
        self.endpoint = managed_endpoint(spec, instance.private_ip_address, master, app.result, monitor.result)
        self.register_outputs({"privateIp": instance.private_ip_address, "connectionName": instance.connection_name})
