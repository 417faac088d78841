"""``ManagedPostgres``: a system's PostgreSQL on Amazon RDS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.clouds.aws.iam import service_role_trust
from components.database_roles import managed_app_user, managed_endpoint, monitor_user
from components.endpoints import BootSecret, PostgresEndpoint, PostgresLogin
from components.resilience import Resilience
from components.specs import PostgresSpec

# Instance class per sizing, with its on-demand price (USD/h, us-east-1, single-AZ).
INSTANCE_CLASSES = {
    "small": ("db.t4g.medium", 0.065),
    "medium": ("db.m6g.large", 0.152),
    "large": ("db.r6g.xlarge", 0.43),
}
STORAGE_USD_PER_GB_MONTH = 0.115
# Enhanced monitoring: OS metrics (processes, memory, disk I/O) every minute to CloudWatch Logs (RDSOSMetrics).
MONITORING_INTERVAL_S = 60
MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


class ManagedPostgres(pulumi.ComponentResource):
    """PostgreSQL on RDS for one system, private and TLS-only.

    Secure defaults: ``rds.force_ssl=1`` and connection logging in a
    dedicated parameter group; storage, Performance Insights and the
    password secret encrypted with the stack key; private subnets, not
    publicly accessible, reachable only from the system's workload security
    group; IAM authentication on; from the stack's ``Resilience``: backups
    kept ``backup_days``, multi-AZ, deletion protection, a final snapshot
    and ``protect`` on the instance; logs exported to CloudWatch; enhanced
    monitoring (OS metrics every minute) through its own role.

    The master password, with ``managed_password`` (VMs): managed by RDS in
    Secrets Manager (encrypted with the stack key, rotated by RDS every 7
    days; Pulumi never sees it: the endpoint carries a ``BootSecret`` marker
    the VM's boot script fills in from the secret at every start). Without
    it (EKS, whose pods read the password from a Kubernetes Secret and have
    no boot script): from pulumi-random, kept in Secrets Manager with the
    stack key (``protect`` like the instance) and in the endpoint itself;
    nothing rotates it (rule ``aws-rds-password-rotation`` says so) until an
    operator-side secret sync (External Secrets) follows a rotated secret.
    ``vector`` (pgvector) is available on RDS PostgreSQL 15+ with
    ``CREATE EXTENSION vector``.

    The master user is for the ``<db>-setup`` job only: the services log in
    as ``<user>_app`` and the exporter as ``<user>_monitor``
    (``components/database_roles.py``), whose generated passwords are kept in
    a ``<name>-roles`` secret (stack key). RDS rotates only the master
    password; these two change when their RandomPassword is replaced (the job
    sets the new verifier at the next deployment), not on a schedule.
    """

    endpoint: PostgresEndpoint
    secret_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: PostgresSpec,
        *,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        sizing: str,
        resilience: Resilience,
        tags: Mapping[str, str],
        managed_password: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:ManagedPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        major = spec.version.split(".")[0]
        password: random.RandomPassword | None = None
        secret: aws.secretsmanager.Secret | None = None

        def kept_secret(suffix: str, description: str) -> aws.secretsmanager.Secret:
            """A Secrets Manager secret of this database, with the stack key, protected like the data."""
            return aws.secretsmanager.Secret(
                f"{name}-{suffix}",
                description=description,
                kms_key_id=kms_key_arn,
                recovery_window_in_days=resilience.secret_recovery_days,
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect),
            )

        if not managed_password:
            password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
            secret = kept_secret("password", f"Master password of {name}")
            aws.secretsmanager.SecretVersion(
                f"{name}-password", secret_id=secret.id, secret_string=password.result, opts=child
            )
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=list(subnet_ids), tags=dict(tags), opts=child)
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description=f"TLS-only parameters for {name}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_disconnections", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value="1000"),
                aws.rds.ParameterGroupParameterArgs(
                    name="max_connections", value=str(spec.max_connections), apply_method="pending-reboot"
                ),
            ],
            tags=dict(tags),
            opts=child,
        )
        monitoring = aws.iam.Role(
            f"{name}-monitoring",
            assume_role_policy=service_role_trust("monitoring.rds.amazonaws.com"),
            tags=dict(tags),
            opts=child,
        )
        monitoring_policy = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring", role=monitoring.name, policy_arn=MONITORING_POLICY, opts=child
        )
        instance_class, _ = INSTANCE_CLASSES[sizing]
        db = aws.rds.Instance(
            f"{name}-db",
            engine="postgres",
            engine_version=spec.version,
            instance_class=instance_class,
            allocated_storage=spec.storage_gb,
            max_allocated_storage=spec.storage_gb * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=kms_key_arn,
            db_name=spec.database,
            username=spec.user,
            # Managed: RDS keeps the password in Secrets Manager and rotates it; no password in Pulumi's state.
            manage_master_user_password=True if password is None else None,
            master_user_secret_kms_key_id=kms_key_arn if password is None else None,
            password=password.result if password is not None else None,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group_id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=resilience.multi_az,
            backup_retention_period=spec.backup_retention_days or resilience.backup_days,
            deletion_protection=resilience.deletion_protection,
            skip_final_snapshot=not resilience.final_snapshot,
            final_snapshot_identifier=f"{name}-final" if resilience.final_snapshot else None,
            copy_tags_to_snapshot=True,
            iam_database_authentication_enabled=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=kms_key_arn,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            monitoring_interval=MONITORING_INTERVAL_S,
            monitoring_role_arn=monitoring.arn,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            tags=dict(tags),
            # RDS checks at creation that it may assume the role with the policy attached.
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect, depends_on=[monitoring_policy]),
        )
        self.managed_password = password is None
        if password is None or secret is None:
            self.secret_arn = db.master_user_secrets.apply(lambda secrets: str(secrets[0].secret_arn))
            managed = BootSecret(ref=name, secret_id=self.secret_arn)
            master = PostgresLogin(spec.user, pulumi.Output.secret(managed.marker()), password_from=managed)
        else:
            self.secret_arn = secret.arn
            master = PostgresLogin(spec.user, pulumi.Output.secret(password.result))
        # The roles the services and the exporter log in as: generated, kept in Secrets Manager with the stack key
        # for operators, and handed to the runtime like every other value (the VMs' runtime secret, a pod's Secret).
        app = random.RandomPassword(f"{name}-app-password", length=40, special=False, opts=child)
        monitor = random.RandomPassword(f"{name}-monitor-password", length=40, special=False, opts=child)
        roles = kept_secret("roles", f"Passwords of the application and monitoring roles of {name}")
        aws.secretsmanager.SecretVersion(
            f"{name}-roles",
            secret_id=roles.id,
            secret_string=pulumi.Output.json_dumps(
                {managed_app_user(spec): app.result, monitor_user(spec): monitor.result}
            ),
            opts=child,
        )
        self.roles_secret_arn = roles.arn
        self.endpoint = managed_endpoint(spec, db.address, master, app.result, monitor.result)
        self.register_outputs({"address": db.address, "secretArn": self.secret_arn})
