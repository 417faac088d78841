"""Rules for every AWS resource type the platform creates, in the families a hospital review expects.

One module per concern, each with its checks and rules: ``network`` (VPCs,
subnets, security groups), ``data_stores`` (RDS, ElastiCache), ``buckets``
(S3), ``keys_secrets`` (KMS, Secrets Manager), ``compute`` (VMs and their
disks), ``backups`` (AWS Backup), ``identity`` (IAM), ``edge`` (load balancers, listeners, WAF, ACM)
and ``governance`` (log groups, tags, protect); ``tokens`` holds the type
tokens they judge. This module only lists the rules in the catalogue's
order, by family. Names follow checkov / cdk-nag where one exists (the
remediation gives the equivalent).
"""

from __future__ import annotations

from policy.aws_rules import (
    backups,
    buckets,
    compute,
    data_stores,
    edge,
    governance,
    identity,
    keys_secrets,
    network,
    source_allowlist,
)
from policy.rule import Rule, StackRule

RULES: list[Rule] = [
    # TLS in transit
    edge.ALB_LISTENER_TLS12,
    edge.ALB_TARGET_TLS,
    data_stores.RDS_FORCE_SSL,
    data_stores.ELASTICACHE_TRANSIT_ENCRYPTION,
    buckets.S3_TLS_ONLY,
    # Encryption at rest
    compute.EBS_ENCRYPTED,
    data_stores.RDS_ENCRYPTED,
    data_stores.ELASTICACHE_AT_REST,
    keys_secrets.KMS_ROTATION,
    keys_secrets.CMK_IN_PROD,
    # Firewall and exposure
    network.NO_ADMIN_PORTS,
    data_stores.RDS_NOT_PUBLIC,
    buckets.S3_NO_PUBLIC_ACL,
    network.NO_PUBLIC_IP,
    compute.IMDSV2_REQUIRED,
    compute.IMDS_HOP_LIMIT,
    edge.ALB_DROP_INVALID_HEADERS,
    # Data protection
    data_stores.RDS_BACKUP_RETENTION,
    data_stores.RDS_PROD_PROTECTION,
    data_stores.ELASTICACHE_RESILIENCE,
    buckets.S3_VERSIONING,
    buckets.S3_PUBLIC_ACCESS_BLOCK,
    edge.ALB_DELETION_PROTECTION_PROD,
    governance.PROTECT_STATEFUL_PROD,
    # Audit, then rules added later, of every family (kept in place: this is the catalogue's order)
    edge.ALB_ACCESS_LOGS,
    data_stores.RDS_LOG_EXPORTS,
    data_stores.RDS_ENHANCED_MONITORING,
    governance.LOG_GROUP_ENCRYPTED_RETAINED,
    network.DEFAULT_SG_CLOSED,
    network.SG_EGRESS_RESTRICTED,
    edge.WAF_MANAGED_RULES,
    compute.VM_HARDENING,
    compute.VM_MONITORING,
    compute.USER_DATA_NO_SECRETS,
    keys_secrets.SECRET_MANAGED,
    keys_secrets.DB_PASSWORD_ROTATION,
    edge.ACM_CERTIFICATE,
    identity.IAM_LEAST_PRIVILEGE,
    governance.REQUIRED_TAGS,
    source_allowlist.LB_PHI_NOT_WORLD,
    backups.BACKUP_PLAN_RETENTION,
    compute.ASG_ELB_HEALTH_CHECK,
    edge.LISTENER_ACM_CERTIFICATE,
    data_stores.RDS_MINOR_UPGRADES,
    keys_secrets.KMS_KEY_POLICY,
    buckets.S3_POLICY_NOT_PUBLIC,
]

STACK_RULES: list[StackRule] = [
    network.SG_NO_WORLD_INGRESS,
    network.VPC_FLOW_LOGS,
    buckets.S3_BUCKET_ENCRYPTED,
    buckets.S3_BUCKET_TLS_ONLY,
    buckets.S3_BUCKET_PRIVATE,
    buckets.S3_BUCKET_VERSIONED,
    buckets.S3_BUCKET_LOGGED,
    data_stores.RDS_TLS_ENFORCED,
    network.VPC_DEFAULT_SG_MANAGED,
    network.DB_NOT_WORLD_REACHABLE,
    edge.ALB_WAF,
    edge.WAF_LOGGING_ENABLED,
    backups.EBS_IN_BACKUP_PLAN,
    backups.BACKUP_VAULT_LOCKED,
]
