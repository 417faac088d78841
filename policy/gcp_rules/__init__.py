"""Rules for every GCP resource type the platform creates, in the families a hospital review expects.

One module per concern, each with its checks and rules: ``data_stores``
(Cloud SQL, Memorystore), ``cluster_backups`` (Backup for GKE plans), ``buckets`` (Cloud Storage and its IAM/ACLs),
``network`` (firewall rules, networks, subnetworks), ``edge`` (SSL policies,
target proxies, backend services, Cloud Armor), ``compute`` (instances,
instance templates, disks), ``keys`` (Cloud KMS, Secret Manager),
``identity`` (project, key and secret IAM) and ``governance`` (protect in
prod); ``tokens`` holds the type tokens they judge. Checks read the inputs
as the engine sees them (camelCase) and a missing value as the provider's
default. This module only lists the rules in the catalogue's order, by
family. ``docs/policy-gcp.md`` compares them with checkov's GCP checks.
"""

from __future__ import annotations

from policy.gcp_rules import (
    buckets,
    cluster_backups,
    compute,
    data_stores,
    edge,
    governance,
    identity,
    keys,
    network,
    source_allowlist,
)
from policy.rule import Rule, StackRule

RULES: list[Rule] = [
    # TLS in transit
    edge.SSL_POLICY_TLS12,
    edge.PROXY_SSL_POLICY,
    edge.BACKEND_TLS,
    data_stores.SQL_TLS_REQUIRED,
    data_stores.REDIS_TLS_AUTH,
    # Encryption at rest
    data_stores.SQL_CMEK,
    data_stores.REDIS_CMEK,
    buckets.GCS_CMEK,
    compute.VM_DISKS_CMEK,
    keys.KMS_ROTATION,
    # Firewall and exposure
    network.FIREWALL_NO_WORLD_INGRESS,
    network.FIREWALL_NO_ADMIN_PORTS,
    network.VPC_CUSTOM_MODE,
    network.SUBNET_PRIVATE,
    data_stores.SQL_NOT_PUBLIC,
    data_stores.REDIS_PRIVATE,
    buckets.GCS_PUBLIC_ACCESS_PREVENTION,
    buckets.GCS_UNIFORM_ACCESS,
    buckets.GCS_NOT_PUBLIC,
    compute.VM_NO_EXTERNAL_IP,
    compute.VM_NO_IP_FORWARDING,
    edge.BACKEND_CLOUD_ARMOR,
    # Data protection
    data_stores.SQL_BACKUPS,
    data_stores.SQL_PROD_PROTECTION,
    data_stores.REDIS_RESILIENCE,
    buckets.GCS_VERSIONING,
    cluster_backups.GKE_BACKUP_PLAN_RULE,
    governance.PROTECT_STATEFUL_PROD,
    # Workload hardening
    compute.VM_SERVICE_ACCOUNT,
    compute.VM_SERIAL_PORT_OFF,
    compute.VM_SHIELDED,
    identity.IAM_LEAST_PRIVILEGE,
    identity.SERVICE_ACCOUNT_IAM,
    # Secrets
    compute.VM_METADATA_NO_SECRETS,
    keys.SECRET_CMEK,
    # Audit and logging
    network.SUBNET_FLOW_LOGS,
    network.FIREWALL_LOGGING,
    edge.BACKEND_LOGGING,
    data_stores.SQL_AUDIT_FLAGS,
    data_stores.SQL_PGAUDIT,
    compute.VM_OS_LOGIN,
    source_allowlist.LB_PHI_NOT_WORLD,
]

STACK_RULES: list[StackRule] = [
    edge.HTTP_PROXY_REDIRECTS,
    edge.CLOUD_ARMOR_WAF,
    buckets.GCS_ACCESS_LOGS,
    compute.DISK_SNAPSHOT_SCHEDULE,
]
