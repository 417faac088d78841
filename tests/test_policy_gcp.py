"""Every GCP rule on a compliant and a violating resource, and a secure GCP program the whole pack passes.

Each case runs through the ``pulumi_policy`` object the engine runs, with
the engine's camelCase input shapes, in a prod stack unless the case says
otherwise. The last tests register real ``pulumi_gcp`` resources under the
mock runtime, so the fixtures' property names are the SDK's, and check that
a weakened copy of each resource fails the review with the right rule.
"""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy import PolicyResource as EnginePolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from offline.harness import run_under_mocks
from offline.providers import profile_for
from offline.review import review
from policy import ALL_POLICIES, RULE_NAMES, RULES, STACK_RULES, gcp_rules
from policy.gcp_rules import edge
from policy.gcp_rules import tokens as t
from policy.rule import HIPAA

POLICIES = {p.name: p for p in ALL_POLICIES}
GCP_RULES = [*gcp_rules.RULES, *gcp_rules.STACK_RULES]
DROP = object()  # a value for ``changed`` that removes the key

KEY = "projects/clinical/locations/europe-west2/keyRings/clinical/cryptoKeys/data"
NET = "projects/clinical/global/networks/clinical"
SUBNET = "projects/clinical/regions/europe-west2/subnetworks/clinical-europe-west2"
SA = "stenosis-api@clinical.iam.gserviceaccount.com"
DEFAULT_SA = "123456789012-compute@developer.gserviceaccount.com"
IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu124-debian-11"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
USER_DATA = "#cloud-config\nwrite_files:\n  - path: /etc/clinical/env\n    content: DB_HOST=10.0.0.5\n"
LB_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
IAP = "35.235.240.0/20"


def violations(
    rule: str, resource_type: str, props: dict[str, Any], environment: str = "prod", protect: bool = False
) -> list[str]:
    """Run one resource policy the way Analyze calls it, with the stack's environment in its config."""
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    args = ResourceValidationArgs(
        resource_type, unknown_checking_proxy(props), "urn:x", "res", opts, None, config={"environment": environment}
    )
    found: list[str] = []
    validate: Any = POLICIES[rule].validate
    validate(args, lambda message, urn=None: found.append(message))
    return found


def changed(base: dict[str, Any], **paths: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with dotted paths (``settings__ipConfiguration__sslMode``) set, or removed by DROP."""
    out = copy.deepcopy(base)
    for path, value in paths.items():
        *parents, leaf = path.split("__")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        if value is DROP:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return out


# --- compliant resources, as the platform's GCP components should register them --------------------------------------

SQL: dict[str, Any] = {
    "databaseVersion": "POSTGRES_16",
    "region": "europe-west2",
    "encryptionKeyName": KEY,
    "deletionProtection": True,
    "settings": {
        "tier": "db-custom-2-7680",
        "availabilityType": "REGIONAL",
        "deletionProtectionEnabled": True,
        "ipConfiguration": {"ipv4Enabled": False, "privateNetwork": NET, "sslMode": "ENCRYPTED_ONLY"},
        "backupConfiguration": {
            "enabled": True,
            "pointInTimeRecoveryEnabled": True,
            "backupRetentionSettings": {"retainedBackups": 35.0},
        },
        "databaseFlags": [
            {"name": flag, "value": "on"}
            for flag in ("log_connections", "log_disconnections", "log_checkpoints", "log_lock_waits")
        ]
        + [{"name": "cloudsql.enable_pgaudit", "value": "on"}],
    },
}
REDIS: dict[str, Any] = {
    "tier": "STANDARD_HA",
    "memorySizeGb": 5.0,
    "authEnabled": True,
    "transitEncryptionMode": "SERVER_AUTHENTICATION",
    "customerManagedKey": KEY,
    "connectMode": "PRIVATE_SERVICE_ACCESS",
    "authorizedNetwork": NET,
    "persistenceConfig": {"persistenceMode": "RDB", "rdbSnapshotPeriod": "ONE_HOUR"},
}
BUCKET: dict[str, Any] = {
    "name": "clinical-prod-stenosis-data",
    "location": "EUROPE-WEST2",
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "versioning": {"enabled": True},
    "encryption": {"defaultKmsKeyName": KEY},
    "logging": {"logBucket": "clinical-prod-logs"},
}
GKE_BACKUP: dict[str, Any] = {
    "cluster": "projects/clinical/locations/europe-west2/clusters/clinical",
    "location": "europe-west2",
    "backupConfig": {
        "selectedNamespaces": {"namespaces": ["cogstack-nlp"]},
        "includeVolumeData": True,
        "includeSecrets": False,
        "encryptionKey": {"gcpKmsEncryptionKey": KEY},
    },
    "backupSchedule": {"cronSchedule": "0 3 * * *"},
    "retentionPolicy": {"backupRetainDays": 35, "backupDeleteLockDays": 35},
}
FIREWALL: dict[str, Any] = {
    "network": NET,
    "direction": "INGRESS",
    "sourceRanges": LB_RANGES,
    "allows": [{"protocol": "tcp", "ports": ["8443"]}],
    "targetServiceAccounts": [SA],
    "logConfig": {"metadata": "INCLUDE_ALL_METADATA"},
}
SUBNETWORK: dict[str, Any] = {
    "network": NET,
    "region": "europe-west2",
    "ipCidrRange": "10.10.0.0/20",
    "privateIpGoogleAccess": True,
    "logConfig": {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"},
}
PROXY_ONLY_SUBNET: dict[str, Any] = {
    "network": NET,
    "ipCidrRange": "10.129.0.0/23",
    "purpose": "REGIONAL_MANAGED_PROXY",
    "role": "ACTIVE",
}
BACKEND: dict[str, Any] = {
    "protocol": "HTTPS",
    "loadBalancingScheme": "EXTERNAL_MANAGED",
    "securityPolicy": "projects/clinical/global/securityPolicies/clinical-armor",
    "logConfig": {"enable": True, "sampleRate": 1.0},
    "backends": [{"group": "projects/clinical/regions/europe-west2/instanceGroups/stenosis"}],
}
SHIELDED = {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
METADATA = {"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "user-data": USER_DATA}
TEMPLATE: dict[str, Any] = {
    "machineType": "n1-standard-8",
    "disks": [{"boot": True, "sourceImage": IMAGE, "diskEncryptionKey": {"kmsKeySelfLink": KEY}}],
    "networkInterfaces": [{"subnetwork": SUBNET}],
    "serviceAccount": {"email": SA, "scopes": [CLOUD_PLATFORM]},
    "metadata": METADATA,
    "shieldedInstanceConfig": SHIELDED,
    "scheduling": {"onHostMaintenance": "TERMINATE"},
    "canIpForward": False,
}
INSTANCE: dict[str, Any] = {
    "machineType": "g2-standard-8",
    "zone": "europe-west2-b",
    "bootDisk": {"initializeParams": {"image": IMAGE}, "kmsKeySelfLink": KEY},
    "networkInterfaces": [{"subnetwork": SUBNET}],
    "serviceAccount": {"email": SA, "scopes": [CLOUD_PLATFORM]},
    "metadata": METADATA,
    "shieldedInstanceConfig": SHIELDED,
}
CRYPTO_KEY: dict[str, Any] = {
    "keyRing": "projects/clinical/locations/europe-west2/keyRings/clinical",
    "rotationPeriod": "7776000s",  # 90 days
    "purpose": "ENCRYPT_DECRYPT",
}
SECRET: dict[str, Any] = {
    "secretId": "stenosis-runtime",
    "replication": {
        "userManaged": {
            "replicas": [{"location": "europe-west2", "customerManagedEncryption": {"kmsKeyName": KEY}}],
        }
    },
}


CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    # (rule, type, compliant, non-compliant, expected text); judged in a prod stack
    (
        "gcp-lb-phi-not-world",
        t.SECURITY_POLICY,
        {
            "labels": {"data-classification": "phi"},
            "rules": [
                {
                    "priority": 500,
                    "action": "deny(403)",
                    "match": {"expr": {"expression": "!inIpRange(origin.ip, '198.51.100.0/24')"}},
                },
                {"priority": 2147483647, "action": "allow", "match": {"versionedExpr": "SRC_IPS_V1"}},
            ],
        },
        {
            "labels": {"data-classification": "phi"},
            "rules": [{"priority": 2147483647, "action": "allow", "match": {"versionedExpr": "SRC_IPS_V1"}}],
        },
        "lets every client address reach a PHI stack's routes",
    ),
    # Cloud SQL
    (
        "gcp-sql-tls-required",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__ipConfiguration__sslMode="ALLOW_UNENCRYPTED_AND_ENCRYPTED"),
        "accepts unencrypted connections",
    ),
    (
        "gcp-sql-tls-required",
        t.SQL_INSTANCE,
        changed(SQL, settings__ipConfiguration__sslMode="TRUSTED_CLIENT_CERTIFICATE_REQUIRED"),
        changed(SQL, settings__ipConfiguration__sslMode=DROP),
        "sets no sslMode",
    ),
    (
        "gcp-sql-tls-required",
        t.SQL_INSTANCE,
        changed(SQL, settings__ipConfiguration__sslMode=DROP, settings__ipConfiguration__requireSsl=True),
        changed(SQL, settings__ipConfiguration__sslMode=DROP, settings__ipConfiguration__requireSsl=False),
        "requireSsl false",
    ),
    (
        "gcp-sql-not-public",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__ipConfiguration__ipv4Enabled=True),
        "has a public IP address (ipv4Enabled is true)",
    ),
    (
        "gcp-sql-not-public",
        t.SQL_INSTANCE,
        changed(SQL, settings__ipConfiguration__authorizedNetworks=[{"name": "office", "value": "203.0.113.0/24"}]),
        changed(SQL, settings__ipConfiguration__ipv4Enabled=DROP),
        "unset, which defaults to true",
    ),
    (
        "gcp-sql-not-public",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__ipConfiguration__authorizedNetworks=[{"name": "any", "value": "0.0.0.0/0"}]),
        "authorizes 0.0.0.0/0 (any): the whole internet",
    ),
    (
        "gcp-gke-backup",
        t.GKE_BACKUP_PLAN,
        GKE_BACKUP,
        changed(GKE_BACKUP, backupConfig__includeVolumeData=False),
        "not their data (includeVolumeData is off)",
    ),
    (
        "gcp-gke-backup",
        t.GKE_BACKUP_PLAN,
        GKE_BACKUP,
        changed(GKE_BACKUP, backupConfig__encryptionKey=DROP),
        "Google-managed key, not the stack's key",
    ),
    (
        "gcp-gke-backup",
        t.GKE_BACKUP_PLAN,
        changed(GKE_BACKUP, backupSchedule={"rpoConfig": {"targetRpoMinutes": 1440}}),
        changed(GKE_BACKUP, backupSchedule__paused=True),
        "takes no scheduled backups",
    ),
    (
        "gcp-gke-backup",
        t.GKE_BACKUP_PLAN,
        changed(GKE_BACKUP, retentionPolicy__backupRetainDays=30),
        changed(GKE_BACKUP, retentionPolicy__backupRetainDays=7),
        "keeps backups 7 days; keep 30 to 365",
    ),
    (
        "gcp-gke-backup",
        t.GKE_BACKUP_PLAN,
        GKE_BACKUP,
        changed(GKE_BACKUP, retentionPolicy=DROP),
        "forever (unset)",
    ),
    (
        "gcp-sql-backups",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__backupConfiguration__enabled=False),
        "takes no automated backups",
    ),
    (
        "gcp-sql-backups",
        t.SQL_INSTANCE,
        changed(SQL, masterInstanceName="stenosis-db", settings__backupConfiguration=DROP),
        changed(SQL, settings__backupConfiguration__pointInTimeRecoveryEnabled=False),
        "no point-in-time recovery (pointInTimeRecoveryEnabled is off)",
    ),
    (
        "gcp-sql-backups",
        t.SQL_INSTANCE,
        changed(SQL, databaseVersion="MYSQL_8_0", settings__backupConfiguration__binaryLogEnabled=True),
        changed(SQL, databaseVersion="MYSQL_8_0"),
        "binaryLogEnabled is off",
    ),
    (
        "gcp-sql-backups",
        t.SQL_INSTANCE,
        changed(SQL, settings__backupConfiguration__backupRetentionSettings__retainedBackups=30),
        changed(SQL, settings__backupConfiguration__backupRetentionSettings=DROP),
        "keeps 7 backups; keep at least 30",
    ),
    ("gcp-sql-cmek", t.SQL_INSTANCE, SQL, changed(SQL, encryptionKeyName=DROP), "Google-managed key"),
    (
        "gcp-sql-prod-protection",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__availabilityType="ZONAL"),
        "ZONAL in prod",
    ),
    (
        "gcp-sql-prod-protection",
        t.SQL_INSTANCE,
        SQL,
        changed(SQL, settings__deletionProtectionEnabled=DROP),
        "settings.deletionProtectionEnabled",
    ),
    (
        "gcp-sql-prod-protection",
        t.SQL_INSTANCE,
        changed(SQL, deletionProtection=DROP),  # the provider's default is true
        changed(SQL, deletionProtection=False),
        "deletionProtection false",
    ),
    (
        "gcp-sql-audit-flags",
        t.SQL_INSTANCE,
        changed(SQL, databaseVersion="MYSQL_8_0", settings__databaseFlags=[]),
        changed(SQL, settings__databaseFlags=[{"name": "log_connections", "value": "on"}]),
        "['log_disconnections', 'log_checkpoints', 'log_lock_waits']",
    ),
    (
        "gcp-sql-audit-flags",
        t.SQL_INSTANCE,
        changed(SQL, settings__databaseFlags=[{**f, "value": "ON"} for f in SQL["settings"]["databaseFlags"]]),
        changed(
            SQL,
            settings__databaseFlags=[*SQL["settings"]["databaseFlags"][:3], {"name": "log_lock_waits", "value": "off"}],
        ),
        "['log_lock_waits']",
    ),
    ("gcp-sql-pgaudit", t.SQL_INSTANCE, SQL, changed(SQL, settings__databaseFlags=[]), "does not enable pgAudit"),
    # Memorystore
    (
        "gcp-redis-tls-auth",
        t.REDIS,
        REDIS,
        changed(REDIS, transitEncryptionMode=DROP),
        "transitEncryptionMode is DISABLED",
    ),
    ("gcp-redis-tls-auth", t.REDIS, REDIS, changed(REDIS, authEnabled=False), "AUTH disabled"),
    ("gcp-redis-cmek", t.REDIS, REDIS, changed(REDIS, customerManagedKey=DROP), "Google-managed key"),
    ("gcp-redis-private", t.REDIS, REDIS, changed(REDIS, connectMode=DROP), "connects by DIRECT_PEERING"),
    ("gcp-redis-private", t.REDIS, REDIS, changed(REDIS, authorizedNetwork=DROP), "default network"),
    ("gcp-redis-resilience", t.REDIS, REDIS, changed(REDIS, persistenceConfig=DROP), "keeps no RDB snapshots"),
    ("gcp-redis-resilience", t.REDIS, REDIS, changed(REDIS, tier=DROP), "BASIC tier in prod"),
    # Cloud Storage
    (
        "gcp-gcs-uniform-access",
        t.BUCKET,
        BUCKET,
        changed(BUCKET, uniformBucketLevelAccess=False),
        "per-object ACLs",
    ),
    (
        "gcp-gcs-public-access-prevention",
        t.BUCKET,
        BUCKET,
        changed(BUCKET, publicAccessPrevention=DROP),
        "publicAccessPrevention 'inherited'",
    ),
    ("gcp-gcs-versioning", t.BUCKET, BUCKET, changed(BUCKET, versioning__enabled=False), "keeps no object versions"),
    ("gcp-gcs-cmek", t.BUCKET, BUCKET, changed(BUCKET, encryption=DROP), "Google-managed key"),
    (
        "gcp-gcs-not-public",
        t.BUCKET_IAM_MEMBER,
        {"bucket": "b", "role": "roles/storage.objectViewer", "member": f"serviceAccount:{SA}"},
        {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"},
        "grants roles/storage.objectViewer to allUsers",
    ),
    (
        "gcp-gcs-not-public",
        t.BUCKET_IAM_BINDING,
        {"bucket": "b", "role": "roles/storage.objectAdmin", "members": [f"serviceAccount:{SA}"]},
        {"bucket": "b", "role": "roles/storage.objectAdmin", "members": ["group:x@h.org", "allAuthenticatedUsers"]},
        "to allAuthenticatedUsers",
    ),
    (
        "gcp-gcs-not-public",
        t.BUCKET_IAM_POLICY,
        {"bucket": "b", "policyData": json.dumps({"bindings": [{"role": "r", "members": [f"serviceAccount:{SA}"]}]})},
        {
            "bucket": "b",
            "policyData": json.dumps({"bindings": [{"role": "roles/storage.admin", "members": ["allUsers"]}]}),
        },
        "grants roles/storage.admin to allUsers",
    ),
    (
        "gcp-gcs-not-public",
        t.BUCKET_ACL,
        {"bucket": "b", "roleEntities": [f"OWNER:user-{SA}"]},
        {"bucket": "b", "roleEntities": ["READER:allUsers"]},
        "grants READER to allUsers by ACL",
    ),
    (
        "gcp-gcs-not-public",
        t.OBJECT_ACL,
        {"bucket": "b", "object": "o", "predefinedAcl": "projectPrivate"},
        {"bucket": "b", "object": "o", "predefinedAcl": "publicRead"},
        "public canned ACL publicRead",
    ),
    (
        "gcp-gcs-not-public",
        t.DEFAULT_OBJECT_ACCESS_CONTROL,
        {"bucket": "b", "entity": "project-owners-123", "role": "OWNER"},
        {"bucket": "b", "entity": "allAuthenticatedUsers", "role": "READER"},
        "grants READER to allAuthenticatedUsers by ACL",
    ),
    # Firewall rules
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        FIREWALL,
        changed(FIREWALL, sourceRanges=["0.0.0.0/0"], allows=[{"protocol": "tcp", "ports": ["22"]}]),
        "admits ['0.0.0.0/0'] on 22/tcp (SSH 22)",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        changed(FIREWALL, direction="EGRESS", sourceRanges=DROP, destinationRanges=["0.0.0.0/0"]),
        changed(FIREWALL, sourceRanges=["::/0"], allows=[{"protocol": "tcp", "ports": ["5432", "6378-6379"]}]),
        "6378-6379/tcp (Memorystore Redis (TLS) 6378, Redis 6379)",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=["0.0.0.0/0"], disabled=True),
        changed(FIREWALL, sourceRanges=["0.0.0.0/0"], allows=[{"protocol": "all"}]),
        "all protocols and ports",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=["0.0.0.0/0"], allows=DROP, denies=[{"protocol": "all"}]),
        changed(FIREWALL, sourceRanges=["10.0.0.0/8", "0.0.0.0/0"], allows=[{"protocol": "udp"}]),
        "every udp port",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=["10.0.0.0/8"], allows=[{"protocol": "tcp", "ports": ["1000-2000"]}]),
        changed(
            FIREWALL, sourceRanges=["0.0.0.0/1", "128.0.0.0/1"], allows=[{"protocol": "6", "ports": ["1000-2000"]}]
        ),
        "the wide range 1000-2000/6",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=DROP, sourceTags=["stenosis-api"]),
        changed(FIREWALL, sourceRanges=DROP),
        "no source given, which GCP reads as 0.0.0.0/0",
    ),
    (
        "gcp-firewall-no-world-ingress",
        t.FIREWALL,
        FIREWALL,
        changed(FIREWALL, sourceRanges=[""]),  # an empty variable: the provider sends no range, GCP opens to all
        "no source given, which GCP reads as 0.0.0.0/0",
    ),
    (
        "gcp-firewall-no-admin-ports",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=[IAP], allows=[{"protocol": "tcp", "ports": ["22"]}]),
        changed(FIREWALL, sourceRanges=["10.0.0.0/8"], allows=[{"protocol": "tcp", "ports": ["22"]}]),
        "SSH (22/tcp) to ['10.0.0.0/8']",
    ),
    (
        "gcp-firewall-no-admin-ports",
        t.FIREWALL,
        FIREWALL,
        changed(
            FIREWALL, sourceRanges=DROP, sourceTags=["bastion"], allows=[{"protocol": "tcp", "ports": ["3000-4000"]}]
        ),
        "RDP (3389/tcp) to ['tagged or service-account VMs']",
    ),
    (
        "gcp-firewall-no-admin-ports",
        t.FIREWALL,
        changed(FIREWALL, sourceRanges=["35.235.240.0/24"], allows=[{"protocol": "tcp", "ports": ["22", "3389"]}]),
        changed(FIREWALL, sourceRanges=[IAP, "192.168.0.0/16"], allows=[{"protocol": "all"}]),
        "SSH (22/all) to ['192.168.0.0/16']",
    ),
    (
        "gcp-firewall-logging",
        t.FIREWALL,
        changed(FIREWALL, logConfig=DROP, enableLogging=True),
        changed(FIREWALL, logConfig=DROP),
        "does not log the connections",
    ),
    # Networks and subnetworks
    ("gcp-vpc-custom-mode", t.NETWORK, {"autoCreateSubnetworks": False}, {}, "auto-mode network"),
    (
        "gcp-subnet-private",
        t.SUBNETWORK,
        PROXY_ONLY_SUBNET,
        changed(SUBNETWORK, privateIpGoogleAccess=DROP),
        "no private Google access",
    ),
    (
        "gcp-subnet-private",
        t.SUBNETWORK,
        changed(SUBNETWORK, stackType="IPV4_IPV6", ipv6AccessType="INTERNAL"),
        changed(SUBNETWORK, stackType="IPV4_IPV6", ipv6AccessType="EXTERNAL"),
        "external IPv6 addresses",
    ),
    ("gcp-subnet-flow-logs", t.SUBNETWORK, PROXY_ONLY_SUBNET, changed(SUBNETWORK, logConfig=DROP), "no VPC flow logs"),
    (
        "gcp-subnet-flow-logs",
        t.SUBNETWORK,
        SUBNETWORK,
        changed(SUBNETWORK, logConfig__flowSampling=0.0),
        "flowSampling is 0",
    ),
    # Edge
    (
        "gcp-ssl-policy-tls12",
        t.SSL_POLICY,
        {"profile": "RESTRICTED", "minTlsVersion": "TLS_1_2"},
        {"profile": "MODERN"},
        "allows TLS_1_0",
    ),
    (
        "gcp-ssl-policy-tls12",
        t.SSL_POLICY,
        {"profile": "MODERN", "minTlsVersion": "TLS_1_2"},
        {"minTlsVersion": "TLS_1_2"},
        "COMPATIBLE profile",
    ),
    (
        "gcp-ssl-policy-tls12",
        t.REGION_SSL_POLICY,
        {"profile": "CUSTOM", "minTlsVersion": "TLS_1_2", "customFeatures": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]},
        {"profile": "CUSTOM", "minTlsVersion": "TLS_1_2", "customFeatures": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]},
        "weak cipher suites ['TLS_RSA_WITH_AES_128_GCM_SHA256']",
    ),
    (
        "gcp-https-proxy-ssl-policy",
        t.HTTPS_PROXY,
        {"urlMap": "m", "sslCertificates": ["c"], "sslPolicy": "clinical-tls"},
        {"urlMap": "m", "sslCertificates": ["c"]},
        "no SSL policy",
    ),
    (
        "gcp-https-proxy-ssl-policy",
        t.SSL_PROXY,
        {"backendService": "b", "sslCertificates": ["c"], "sslPolicy": "clinical-tls"},
        {"backendService": "b", "sslCertificates": ["c"], "sslPolicy": ""},
        "TLS 1.0 and up",
    ),
    ("gcp-backend-tls", t.BACKEND_SERVICE, BACKEND, changed(BACKEND, protocol=DROP), "sends plain HTTP"),
    (
        "gcp-backend-tls",
        t.REGION_BACKEND_SERVICE,
        {"protocol": "TCP", "loadBalancingScheme": "INTERNAL"},
        changed(BACKEND, protocol="H2C"),
        "sends plain H2C",
    ),
    ("gcp-backend-logging", t.BACKEND_SERVICE, BACKEND, changed(BACKEND, logConfig=DROP), "logConfig.enable is off"),
    (
        "gcp-backend-logging",
        t.REGION_BACKEND_SERVICE,
        BACKEND,
        changed(BACKEND, logConfig__sampleRate=0.0),
        "sampleRate is 0",
    ),
    (
        "gcp-backend-cloud-armor",
        t.BACKEND_SERVICE,
        changed(BACKEND, loadBalancingScheme="INTERNAL_MANAGED", securityPolicy=DROP),
        changed(BACKEND, securityPolicy=DROP, loadBalancingScheme=DROP),  # the provider's default scheme
        "faces the internet (EXTERNAL_MANAGED) without a Cloud Armor",
    ),
    (
        "gcp-backend-cloud-armor",
        t.BACKEND_SERVICE,
        BACKEND,
        changed(BACKEND, securityPolicy=DROP, loadBalancingScheme="EXTERNAL"),
        "faces the internet (EXTERNAL)",
    ),
    # Compute
    (
        "gcp-vm-no-external-ip",
        t.INSTANCE_TEMPLATE,
        TEMPLATE,
        changed(TEMPLATE, networkInterfaces=[{"subnetwork": SUBNET, "accessConfigs": [{}]}]),
        "network interface 0 an external IPv4 address",
    ),
    (
        "gcp-vm-no-external-ip",
        t.INSTANCE,
        changed(INSTANCE, networkInterfaces=[{"subnetwork": SUBNET, "accessConfigs": []}]),
        changed(
            INSTANCE, networkInterfaces=[{"subnetwork": SUBNET, "ipv6AccessConfigs": [{"networkTier": "PREMIUM"}]}]
        ),
        "external IPv6 address",
    ),
    (
        "gcp-vm-no-ip-forwarding",
        t.REGION_INSTANCE_TEMPLATE,
        TEMPLATE,
        changed(TEMPLATE, canIpForward=True),
        "canIpForward",
    ),
    (
        "gcp-vm-service-account",
        t.INSTANCE_TEMPLATE,
        changed(TEMPLATE, serviceAccount=DROP),
        changed(TEMPLATE, serviceAccount={"email": DEFAULT_SA, "scopes": ["cloud-platform"]}),
        "default compute service account with the full cloud-platform scope",
    ),
    (
        "gcp-vm-service-account",
        t.INSTANCE,
        changed(INSTANCE, serviceAccount={"email": SA, "scopes": ["logging-write"]}),
        changed(INSTANCE, serviceAccount={"scopes": ["logging-write"]}),
        "runs as the default compute service account (project Editor",
    ),
    (
        "gcp-vm-serial-port-off",
        t.INSTANCE_TEMPLATE,
        changed(TEMPLATE, metadata={**METADATA, "serial-port-enable": "FALSE", "serial-port-logging-enable": "TRUE"}),
        changed(TEMPLATE, metadata={**METADATA, "serial-port-enable": "1"}),
        "interactive serial console",
    ),
    (
        "gcp-vm-shielded",
        t.INSTANCE_TEMPLATE,
        changed(TEMPLATE, shieldedInstanceConfig={"enableSecureBoot": True}),  # vTPM and integrity default on
        changed(TEMPLATE, shieldedInstanceConfig=DROP),
        "secure boot is off",
    ),
    (
        "gcp-vm-shielded",
        t.INSTANCE,
        INSTANCE,
        changed(INSTANCE, shieldedInstanceConfig={**SHIELDED, "enableVtpm": False}),
        "no virtual TPM",
    ),
    (
        "gcp-vm-os-login",
        t.INSTANCE_TEMPLATE,
        TEMPLATE,
        changed(TEMPLATE, metadata={"user-data": USER_DATA}),
        "does not enable OS Login",
    ),
    (
        "gcp-vm-os-login",
        t.INSTANCE,
        INSTANCE,
        changed(INSTANCE, metadata={**METADATA, "enable-oslogin": "false", "ssh-keys": "ops:ssh-ed25519 AAAA ops"}),
        "turns OS Login off",
    ),
    (
        "gcp-vm-os-login",
        t.INSTANCE,
        INSTANCE,
        changed(INSTANCE, metadata={**METADATA, "ssh-keys": "ops:ssh-ed25519 AAAA ops"}),
        "installs SSH keys from metadata (['ssh-keys'])",
    ),
    (
        "gcp-vm-disks-cmek",
        t.INSTANCE_TEMPLATE,
        changed(TEMPLATE, disks=[*TEMPLATE["disks"], {"source": "projects/clinical/zones/z/disks/models"}]),
        changed(TEMPLATE, disks=[{"boot": True, "sourceImage": IMAGE}]),
        "boot disk uses a Google-managed key",
    ),
    (
        "gcp-vm-disks-cmek",
        t.INSTANCE,
        changed(INSTANCE, bootDisk={"source": "projects/clinical/zones/z/disks/boot"}),
        changed(INSTANCE, bootDisk={"initializeParams": {"image": IMAGE}}),
        "boot disk uses a Google-managed key",
    ),
    (
        "gcp-vm-disks-cmek",
        t.DISK,
        {"zone": "europe-west2-b", "diskEncryptionKey": {"kmsKeySelfLink": KEY}},
        {"zone": "europe-west2-b"},
        "Google-managed key",
    ),
    (
        "gcp-vm-metadata-no-secrets",
        t.INSTANCE_TEMPLATE,
        TEMPLATE,
        changed(TEMPLATE, metadata={**METADATA, "user-data": USER_DATA + "  - content: DB_PASSWORD=hunter2hunter2\n"}),
        "metadata user-data contains a secret",
    ),
    (
        "gcp-vm-metadata-no-secrets",
        t.INSTANCE,
        changed(
            INSTANCE,
            metadataStartupScript="#!/bin/bash\nexport DB_PASSWORD=${DB_PASSWORD}\n"
            "RUNTIME_SECRET=projects/clinical/secrets/stenosis-runtime/versions/latest\n",
        ),
        changed(INSTANCE, metadataStartupScript="-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
        "metadataStartupScript contains a secret",
    ),
    (
        "gcp-vm-metadata-no-secrets",
        t.REGION_INSTANCE_TEMPLATE,
        TEMPLATE,
        changed(TEMPLATE, metadata={"startup-script": base64.b64encode(b'{"private_key_id": "abc"}').decode()}),
        "metadata startup-script contains a secret",
    ),
    # Keys, secrets, IAM
    ("gcp-kms-rotation", t.CRYPTO_KEY, CRYPTO_KEY, changed(CRYPTO_KEY, rotationPeriod=DROP), "never rotates"),
    (
        "gcp-kms-rotation",
        t.CRYPTO_KEY,
        changed(CRYPTO_KEY, purpose="ASYMMETRIC_SIGN", rotationPeriod=DROP),
        changed(CRYPTO_KEY, rotationPeriod="31536000s"),
        "rotates every 365 days; rotate at least every 90 days",
    ),
    (
        "gcp-secret-cmek",
        t.SECRET,
        changed(SECRET, replication={"auto": {"customerManagedEncryption": {"kmsKeyName": KEY}}}),
        changed(SECRET, replication={"auto": {}}),
        "Google-managed key in some replica",
    ),
    (
        "gcp-secret-cmek",
        t.SECRET,
        SECRET,
        changed(
            SECRET,
            replication__userManaged__replicas=[
                *SECRET["replication"]["userManaged"]["replicas"],
                {"location": "europe-west1"},
            ],
        ),
        "Google-managed key in some replica",
    ),
    (
        "gcp-secret-cmek",
        t.REGIONAL_SECRET,
        {"secretId": "s", "location": "europe-west2", "customerManagedEncryption": {"kmsKeyName": KEY}},
        {"secretId": "s", "location": "europe-west2"},
        "Google-managed key",
    ),
    (
        "gcp-iam-least-privilege",
        t.CRYPTO_KEY_IAM_MEMBER,
        {
            "cryptoKeyId": KEY,
            "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
            "member": "serviceAccount:service-1@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        },
        {"cryptoKeyId": KEY, "role": "roles/cloudkms.cryptoKeyDecrypter", "member": "allUsers"},
        "to allUsers: anyone",
    ),
    (
        "gcp-iam-least-privilege",
        t.PROJECT_IAM_MEMBER,
        {"project": "clinical", "role": "roles/logging.logWriter", "member": f"serviceAccount:{SA}"},
        {"project": "clinical", "role": "roles/editor", "member": f"serviceAccount:{SA}"},
        "basic role roles/editor",
    ),
    (
        "gcp-iam-least-privilege",
        t.SECRET_IAM_BINDING,
        {"secretId": "s", "role": "roles/secretmanager.secretAccessor", "members": [f"serviceAccount:{SA}"]},
        {"secretId": "s", "role": "roles/secretmanager.secretAccessor", "members": [f"serviceAccount:{DEFAULT_SA}"]},
        "to the default compute service account",
    ),
    (
        "gcp-iam-least-privilege",
        t.KEY_RING_IAM_POLICY,
        {"keyRingId": "kr", "policyData": json.dumps({"bindings": [{"role": "roles/cloudkms.viewer", "members": []}]})},
        {
            "keyRingId": "kr",
            "policyData": json.dumps(
                {"bindings": [{"role": "roles/cloudkms.viewer", "members": ["allAuthenticatedUsers"]}]}
            ),
        },
        "grants roles/cloudkms.viewer to allAuthenticatedUsers",
    ),
    (
        "gcp-iam-least-privilege",
        t.PROJECT_IAM_MEMBER,
        {"project": "clinical", "role": "roles/logging.logWriter", "member": f"serviceAccount:{SA}"},
        {"project": "clinical", "role": "roles/iam.serviceAccountTokenCreator", "member": f"serviceAccount:{SA}"},
        "on the project to serviceAccount:",
    ),
    (
        "gcp-service-account-iam",
        t.SA_IAM_MEMBER,
        {
            "serviceAccountId": f"projects/clinical/serviceAccounts/{SA}",
            "role": "roles/iam.workloadIdentityUser",
            "member": "serviceAccount:clinical.svc.id.goog[stenosis/api]",
        },
        {
            "serviceAccountId": f"projects/clinical/serviceAccounts/{SA}",
            "role": "roles/iam.workloadIdentityUser",
            "member": "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/"
            "clinical.svc.id.goog/namespace/stenosis",
        },
        "name one Kubernetes service account",
    ),
    (
        "gcp-service-account-iam",
        t.SA_IAM_BINDING,
        {"serviceAccountId": SA, "role": "roles/iam.serviceAccountTokenCreator", "members": [f"serviceAccount:{SA}"]},
        {"serviceAccountId": SA, "role": "roles/iam.serviceAccountKeyAdmin", "members": ["user:ops@example.org"]},
        "create keys for the service account",
    ),
    (
        "gcp-service-account-iam",
        t.SA_IAM_POLICY,
        {"serviceAccountId": SA, "policyData": json.dumps({"bindings": []})},
        {
            "serviceAccountId": SA,
            "policyData": json.dumps({"bindings": [{"role": "roles/iam.serviceAccountUser", "members": ["allUsers"]}]}),
        },
        "lets allUsers act as the service account",
    ),
]


@pytest.mark.parametrize(
    ("rule", "resource_type", "good", "bad", "expected"), CASES, ids=[f"{c[0]}:{i}" for i, c in enumerate(CASES)]
)
def test_rule_both_ways(
    rule: str, resource_type: str, good: dict[str, Any], bad: dict[str, Any], expected: str
) -> None:
    assert violations(rule, resource_type, good) == []
    found = violations(rule, resource_type, bad)
    assert found and any(expected in f for f in found), found


def test_every_gcp_resource_rule_has_a_case() -> None:
    covered = {c[0] for c in CASES}
    assert {r.name for r in gcp_rules.RULES} - covered == {"gcp-protect-stateful-prod"}  # it reads options: below


def test_every_gcp_rule_carries_what_a_reviewer_reads() -> None:
    names = [r.name for r in GCP_RULES]
    assert len(names) == len(set(names)) and all(n.startswith("gcp-") for n in names)
    for rule in GCP_RULES:
        assert rule.hipaa in HIPAA.values() and rule.nist and rule.remediation and rule.description, rule.name
        assert rule.resource_types and all(rt.startswith("gcp:") for rt in rule.resource_types), rule.name
    # Advisory by design: OS Login, disk CMEK, firewall logging, pgAudit, secret CMEK; every other rule blocks in prod.
    advisory = {r.name for r in GCP_RULES if r.default_enforcement == "advisory"}
    assert advisory == {
        "gcp-vm-os-login",
        "gcp-vm-disks-cmek",
        "gcp-firewall-logging",
        "gcp-sql-pgaudit",
        "gcp-secret-cmek",
    }


def _sdk_source(token: str) -> str:
    """The source file of the pulumi_gcp class a type token names (``gcp:compute/sSLPolicy:SSLPolicy``)."""
    module, class_name = token.split(":")[1].split("/")[0], token.split(":")[2]
    cls = getattr(importlib.import_module(f"pulumi_gcp.{module}"), class_name)
    return Path(inspect.getfile(cls)).read_text(encoding="utf-8")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing a pulumi_gcp module warns about its aliases
def test_every_token_is_one_the_installed_sdk_registers() -> None:
    tokens = {rt for r in GCP_RULES for rt in r.resource_types} | set(edge.SECURITY_POLICY_RULES) | set(t.URL_MAPS)
    assert len(tokens) > 40
    for token in sorted(tokens):
        assert f"'{token}'" in _sdk_source(token), token


def test_gcp_rules_come_after_every_other_rule_in_the_catalogue() -> None:
    for rules in (RULES, STACK_RULES):
        names = [r.name for r in rules]
        first_gcp = next(i for i, n in enumerate(names) if n.startswith("gcp-"))
        assert all(n.startswith("gcp-") for n in names[first_gcp:])
        assert not any(n.startswith("gcp-") for n in names[:first_gcp])
    assert [r.name for r in RULES[-len(gcp_rules.RULES) :]] == [r.name for r in gcp_rules.RULES]
    assert all(RULE_NAMES[r.name] is r for r in GCP_RULES)


def test_prod_only_checks_follow_the_stacks_environment_and_a_prod_label() -> None:
    zonal = changed(SQL, settings__availabilityType="ZONAL", settings__deletionProtectionEnabled=False)
    assert violations("gcp-sql-prod-protection", t.SQL_INSTANCE, zonal, environment="staging") == []
    assert len(violations("gcp-sql-prod-protection", t.SQL_INSTANCE, zonal)) == 2
    labelled = changed(zonal, settings__userLabels={"environment": "prod"})
    assert len(violations("gcp-sql-prod-protection", t.SQL_INSTANCE, labelled, environment="staging")) == 2
    week = changed(SQL, settings__backupConfiguration__backupRetentionSettings__retainedBackups=7.0)
    assert violations("gcp-sql-backups", t.SQL_INSTANCE, week, environment="staging") == []
    gke_week = changed(GKE_BACKUP, retentionPolicy__backupRetainDays=7)
    assert violations("gcp-gke-backup", t.GKE_BACKUP_PLAN, gke_week, environment="staging") == []
    assert violations(
        "gcp-gke-backup", t.GKE_BACKUP_PLAN, changed(gke_week, retentionPolicy__backupRetainDays=6), "dev"
    )
    yearly = changed(CRYPTO_KEY, rotationPeriod="31536000s")
    assert violations("gcp-kms-rotation", t.CRYPTO_KEY, yearly, environment="staging") == []
    assert violations("gcp-kms-rotation", t.CRYPTO_KEY, changed(yearly, rotationPeriod="31622400s"), "staging") == [
        "res rotates every 366 days; rotate at least every 365 days"
    ]
    basic = changed(REDIS, tier="BASIC")
    assert violations("gcp-redis-resilience", t.REDIS, basic, environment="staging") == []
    assert violations("gcp-redis-resilience", t.REDIS, changed(basic, labels={"environment": "prod"}), "dev")


def test_protect_in_prod_reads_the_resource_options() -> None:
    state: list[tuple[str, dict[str, Any]]] = [
        (t.SQL_INSTANCE, SQL),
        (t.CRYPTO_KEY, CRYPTO_KEY),
        (t.REGIONAL_SECRET, {}),
        (t.DISK, {"size": 50}),
        (t.GKE_BACKUP_PLAN, GKE_BACKUP),
    ]
    for resource_type, props in state:
        assert violations("gcp-protect-stateful-prod", resource_type, props, protect=True) == []
        assert violations("gcp-protect-stateful-prod", resource_type, props) == [
            "res holds state in prod but is not created with protect=True"
        ]
        assert violations("gcp-protect-stateful-prod", resource_type, props, environment="staging") == []


def test_a_rule_ignores_types_it_does_not_judge() -> None:
    assert violations("gcp-sql-cmek", t.REDIS, {}) == []
    assert (
        violations(
            "gcp-firewall-no-world-ingress",
            "aws:ec2/securityGroup:SecurityGroup",
            FIREWALL | {"sourceRanges": ["0.0.0.0/0"]},
        )
        == []
    )


# --- stack rules ------------------------------------------------------------------------------------------------------

Res = tuple[str, str, dict[str, Any], list[str]]  # (type, name, props, names it depends on)


def stack_violations(rule: str, resources: list[Res]) -> list[tuple[str, str]]:
    """Run one stack policy on (type, name, props, dependency names) the way AnalyzeStack wires them."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    built = {
        name: EnginePolicyResource(rt, unknown_checking_proxy(p), f"urn:{name}", name, opts, None, None, [], {})
        for rt, name, p, _ in resources
    }
    for _, name, _, deps in resources:
        built[name].dependencies = [built[d] for d in deps]
    found: list[tuple[str, str]] = []
    validate: Any = POLICIES[rule].validate
    validate(StackValidationArgs(list(built.values())), lambda message, urn=None: found.append((urn or "", message)))
    return found


def test_access_logs_exempt_only_the_bucket_the_others_log_to() -> None:
    data: Res = (t.BUCKET, "data", BUCKET, [])
    logs: Res = (t.BUCKET, "logs", changed(BUCKET, name="clinical-prod-logs", logging=DROP), [])
    assert stack_violations("gcp-gcs-access-logs", [data, logs]) == []
    unlogged: Res = (t.BUCKET, "data", changed(BUCKET, logging=DROP), [])
    assert stack_violations("gcp-gcs-access-logs", [unlogged, logs]) == [
        ("urn:data", "data writes no access logs (and no bucket of the stack logs to it)"),
        ("urn:logs", "logs writes no access logs (and no bucket of the stack logs to it)"),
    ]
    to_itself: Res = (t.BUCKET, "logs", changed(BUCKET, name="clinical-prod-logs"), [])
    assert stack_violations("gcp-gcs-access-logs", [data, to_itself]) == [
        ("urn:logs", "logs writes its access logs to itself")
    ]


def armor_rule(expression: str, action: str = "deny(403)", **more: Any) -> dict[str, Any]:
    return {"action": action, "priority": 1000.0, "match": {"expr": {"expression": expression}}, **more}


WAF_RULES = [
    armor_rule("evaluatePreconfiguredWaf('sqli-v33-stable', {'sensitivity': 1})"),
    armor_rule("evaluatePreconfiguredWaf('xss-v33-stable')"),
    armor_rule("evaluatePreconfiguredExpr('cve-canary')"),
    {
        "action": "throttle",
        "priority": 900.0,
        "match": {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}},
        "rateLimitOptions": {"conformAction": "allow", "exceedAction": "deny(429)", "enforceOnKey": "IP"},
    },
]


def test_cloud_armor_needs_the_waf_sets_and_a_rate_limit_inline_or_as_rule_resources() -> None:
    assert stack_violations("gcp-cloud-armor-waf", [(t.SECURITY_POLICY, "armor", {"rules": WAF_RULES}, [])]) == []
    separate = [(edge.SECURITY_POLICY_RULES[0], f"r{i}", r, ["armor"]) for i, r in enumerate(WAF_RULES)]
    assert stack_violations("gcp-cloud-armor-waf", [(t.SECURITY_POLICY, "armor", {}, []), *separate]) == []
    previewed = [WAF_RULES[0], {**WAF_RULES[1], "preview": True}, {**WAF_RULES[2], "action": "allow"}, WAF_RULES[3]]
    assert stack_violations("gcp-cloud-armor-waf", [(t.SECURITY_POLICY, "armor", {"rules": previewed}, [])]) == [
        ("urn:armor", "armor does not enforce the preconfigured WAF rules ['xss', 'cve-canary']")
    ]
    assert stack_violations("gcp-cloud-armor-waf", [(t.SECURITY_POLICY, "armor", {"rules": WAF_RULES[:3]}, [])]) == [
        ("urn:armor", "armor has no rate-based rule (throttle or rate_based_ban)")
    ]
    edge_policy: Res = (t.SECURITY_POLICY, "edge", {"type": "CLOUD_ARMOR_EDGE"}, [])
    assert stack_violations("gcp-cloud-armor-waf", [edge_policy]) == []


def test_http_proxies_only_redirect_to_https() -> None:
    redirect = {"defaultUrlRedirect": {"httpsRedirect": True, "stripQuery": False}}
    proxy: Res = (t.HTTP_PROXY, "http", {"urlMap": "m"}, ["redirect"])
    assert stack_violations("gcp-http-proxy-redirects", [(t.URL_MAP, "redirect", redirect, []), proxy]) == []
    serving = {"defaultService": "backend"}
    assert stack_violations("gcp-http-proxy-redirects", [(t.URL_MAP, "redirect", serving, []), proxy]) == [
        ("urn:http", "http serves plain HTTP: redirect does not redirect every request to HTTPS")
    ]
    routed = {**redirect, "pathMatchers": [{"name": "api", "defaultService": "backend"}]}
    assert stack_violations("gcp-http-proxy-redirects", [(t.URL_MAP, "redirect", routed, []), proxy])
    assert stack_violations("gcp-http-proxy-redirects", [(t.HTTP_PROXY, "http", {"urlMap": "elsewhere"}, [])]) == [
        ("urn:http", "http serves plain HTTP through a URL map the stack cannot show redirects to HTTPS")
    ]


def test_every_gcp_stack_rule_is_tested_here() -> None:
    assert {r.name for r in gcp_rules.STACK_RULES} == {
        "gcp-gcs-access-logs",
        "gcp-cloud-armor-waf",
        "gcp-http-proxy-redirects",
        "gcp-disk-snapshot-schedule",
    }


SNAPSHOTS = {
    "name": "state-snapshots",
    "snapshotSchedulePolicy": {
        "schedule": {"dailySchedule": {"daysInCycle": 1, "startTime": "03:00"}},
        "retentionPolicy": {"maxRetentionDays": 35, "onSourceDiskDelete": "KEEP_AUTO_SNAPSHOTS"},
    },
}
SNAPSHOTS_LINK = "https://www.googleapis.com/compute/v1/projects/clinical/regions/europe-west2/resourcePolicies/"


def state_disk(policies: list[str] | None, schedule: dict[str, Any] | None = None, depends: bool = True) -> list[Res]:
    """A schedule and a disk listing ``policies`` in its resourcePolicies (None: the key is absent)."""
    disk: dict[str, Any] = {"name": "state", "size": 50}
    if policies is not None:
        disk["resourcePolicies"] = policies
    return [
        (t.RESOURCE_POLICY, "snapshots", schedule or SNAPSHOTS, []),
        (t.DISK, "state", disk, ["snapshots"] if depends else []),
    ]


def test_a_disk_needs_a_snapshot_schedule_of_the_stack() -> None:
    rule = "gcp-disk-snapshot-schedule"
    missing = [("urn:state", "state has no snapshot schedule attached: a lost or corrupted disk cannot be restored")]
    assert stack_violations(rule, state_disk([SNAPSHOTS_LINK + "state-snapshots"], depends=False)) == []
    assert stack_violations(rule, state_disk(None, depends=False)) == missing
    assert stack_violations(rule, state_disk([], depends=False)) == missing
    # A schedule that is not the disk's (another name, no dependency) does not count.
    assert stack_violations(rule, state_disk([SNAPSHOTS_LINK + "other"], depends=False)) == missing
    # At preview (or with a provider-shaped ID) the listed value is unknown: the disk's dependency decides.
    assert stack_violations(rule, state_disk([UNKNOWN_STRING_VALUE])) == []
    assert stack_violations(rule, state_disk([UNKNOWN_STRING_VALUE], depends=False)) == missing
    # A separate attachment works as well as the disk's own list.
    attached = [
        *state_disk(None, depends=False),
        (t.DISK_POLICY_ATTACHMENT, "attach", {"disk": "state", "name": "state-snapshots"}, ["state", "snapshots"]),
    ]
    assert stack_violations(rule, attached) == []
    # A resource policy that is not a snapshot schedule, or keeps snapshots too briefly, does not protect it.
    placement = {"name": "state-snapshots", "groupPlacementPolicy": {"collocation": "COLLOCATED"}}
    assert stack_violations(rule, state_disk([SNAPSHOTS_LINK + "state-snapshots"], placement)) == missing
    brief = {**SNAPSHOTS, "snapshotSchedulePolicy": {"retentionPolicy": {"maxRetentionDays": 3}}}
    found = stack_violations(rule, state_disk([SNAPSHOTS_LINK + "state-snapshots"], brief))
    assert found == [("urn:state", "state's snapshot schedule snapshots keeps snapshots 3 days; keep at least 7")]


# --- a secure program with real pulumi_gcp resources, and a weakened copy of each --------------------------------------


def secure_program(weaken: str | None = None) -> None:
    """One of each GCP resource the rules judge, secure, with ``weaken`` naming the one registered weakened."""
    protect = pulumi.ResourceOptions(protect=True)
    weak = weaken or ""
    key = gcp.kms.CryptoKey(
        "key", key_ring=CRYPTO_KEY["keyRing"], rotation_period="" if weak == "key" else "7776000s", opts=protect
    )
    gcp.kms.CryptoKeyIAMMember(
        "key-sql-agent",
        crypto_key_id=key.id,
        role="roles/owner" if weak == "key-iam" else "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member="serviceAccount:service-1@gcp-sa-cloud-sql.iam.gserviceaccount.com",
    )
    network = gcp.compute.Network("vpc", auto_create_subnetworks=weak == "vpc")
    gcp.compute.Subnetwork(
        "subnet",
        network=network.id,
        ip_cidr_range="10.10.0.0/20",
        region="europe-west2",
        private_ip_google_access=True,
        log_config=None
        if weak == "subnet"
        else gcp.compute.SubnetworkLogConfigArgs(flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"),
    )
    gcp.compute.Firewall(
        "lb-to-api",
        network=network.id,
        direction="INGRESS",
        source_ranges=["0.0.0.0/0"] if weak == "firewall" else LB_RANGES,
        allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["8443"])],
        target_service_accounts=[SA],
        log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
    )
    gcp.sql.DatabaseInstance(
        "db",
        database_version="POSTGRES_16",
        region="europe-west2",
        encryption_key_name=key.id,
        deletion_protection=True,
        settings=gcp.sql.DatabaseInstanceSettingsArgs(
            tier="db-custom-2-7680",
            availability_type="REGIONAL",
            deletion_protection_enabled=True,
            ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                ipv4_enabled=False,
                private_network=network.id,
                ssl_mode="ALLOW_UNENCRYPTED_AND_ENCRYPTED" if weak == "db" else "ENCRYPTED_ONLY",
            ),
            backup_configuration=gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                enabled=True,
                point_in_time_recovery_enabled=True,
                backup_retention_settings=gcp.sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                    retained_backups=35
                ),
            ),
            database_flags=[
                gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=f["name"], value=f["value"])
                for f in SQL["settings"]["databaseFlags"]
            ],
        ),
        opts=protect,
    )
    gcp.redis.Instance(
        "cache",
        memory_size_gb=5,
        tier="STANDARD_HA",
        auth_enabled=weak != "cache",
        transit_encryption_mode="SERVER_AUTHENTICATION",
        customer_managed_key=key.id,
        connect_mode="PRIVATE_SERVICE_ACCESS",
        authorized_network=network.id,
        persistence_config=gcp.redis.InstancePersistenceConfigArgs(
            persistence_mode="RDB", rdb_snapshot_period="ONE_HOUR"
        ),
        opts=protect,
    )
    for name, log_to in (("clinical-prod-logs", None), ("clinical-prod-data", "clinical-prod-logs")):
        gcp.storage.Bucket(
            name,
            name=name,
            location="EUROPE-WEST2",
            uniform_bucket_level_access=True,
            public_access_prevention="inherited" if weak == "bucket" and log_to else "enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.id),
            logging=gcp.storage.BucketLoggingArgs(log_bucket=log_to) if log_to else None,
            opts=protect,
        )
    gcp.storage.BucketIAMMember(
        "data-reader",
        bucket="clinical-prod-data",
        role="roles/storage.objectViewer",
        member="allUsers" if weak == "bucket-iam" else f"serviceAccount:{SA}",
    )
    secret = gcp.secretmanager.Secret(
        "runtime",
        secret_id="stenosis-runtime",
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                replicas=[
                    gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                        location="europe-west2",
                        customer_managed_encryption=gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(
                            kms_key_name=key.id
                        ),
                    )
                ]
            )
        ),
        opts=None if weak == "secret" else protect,
    )
    gcp.secretmanager.SecretIamMember(
        "runtime-reader", secret_id=secret.id, role="roles/secretmanager.secretAccessor", member=f"serviceAccount:{SA}"
    )
    gcp.compute.InstanceTemplate(
        "api-template",
        machine_type="n1-standard-8",
        disks=[
            gcp.compute.InstanceTemplateDiskArgs(
                boot=True,
                source_image=IMAGE,
                disk_encryption_key=gcp.compute.InstanceTemplateDiskDiskEncryptionKeyArgs(kms_key_self_link=key.id),
            )
        ],
        network_interfaces=[
            gcp.compute.InstanceTemplateNetworkInterfaceArgs(
                subnetwork=SUBNET,
                access_configs=[gcp.compute.InstanceTemplateNetworkInterfaceAccessConfigArgs()]
                if weak == "template"
                else None,
            )
        ],
        service_account=gcp.compute.InstanceTemplateServiceAccountArgs(email=SA, scopes=[CLOUD_PLATFORM]),
        metadata=METADATA,
        shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
        ),
        scheduling=gcp.compute.InstanceTemplateSchedulingArgs(on_host_maintenance="TERMINATE"),
    )
    gcp.compute.Instance(
        "bastion",
        machine_type="e2-small",
        zone="europe-west2-b",
        boot_disk=gcp.compute.InstanceBootDiskArgs(
            initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(image=IMAGE), kms_key_self_link=key.id
        ),
        network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(subnetwork=SUBNET)],
        service_account=gcp.compute.InstanceServiceAccountArgs(
            email=DEFAULT_SA if weak == "instance" else SA, scopes=[CLOUD_PLATFORM]
        ),
        metadata=METADATA,
        shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
        ),
    )
    tls = gcp.compute.SSLPolicy(
        "tls", profile="COMPATIBLE" if weak == "ssl-policy" else "RESTRICTED", min_tls_version="TLS_1_2"
    )
    armor = gcp.compute.SecurityPolicy(
        "armor",
        rules=[
            gcp.compute.SecurityPolicyRuleArgs(
                action=r["action"],
                priority=int(r["priority"]),
                match=gcp.compute.SecurityPolicyRuleMatchArgs(
                    expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(expression=r["match"]["expr"]["expression"])
                ),
            )
            for r in WAF_RULES[:3]
        ]
        + (
            []
            if weak == "armor"
            else [
                gcp.compute.SecurityPolicyRuleArgs(
                    action="throttle",
                    priority=900,
                    match=gcp.compute.SecurityPolicyRuleMatchArgs(
                        versioned_expr="SRC_IPS_V1",
                        config=gcp.compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
                    ),
                    rate_limit_options=gcp.compute.SecurityPolicyRuleRateLimitOptionsArgs(
                        conform_action="allow",
                        exceed_action="deny(429)",
                        enforce_on_key="IP",
                        rate_limit_threshold=gcp.compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
                            count=600, interval_sec=60
                        ),
                    ),
                )
            ]
        ),
    )
    backend = gcp.compute.BackendService(
        "api-backend",
        protocol="HTTP" if weak == "backend" else "HTTPS",
        load_balancing_scheme="EXTERNAL_MANAGED",
        security_policy=armor.id,
        log_config=gcp.compute.BackendServiceLogConfigArgs(enable=True, sample_rate=1.0),
    )
    url_map = gcp.compute.URLMap("routes", default_service=backend.id)
    gcp.compute.TargetHttpsProxy(
        "https", url_map=url_map.id, ssl_certificates=["cert"], ssl_policy=None if weak == "https-proxy" else tls.id
    )
    redirect = gcp.compute.URLMap(
        "redirect",
        default_url_redirect=gcp.compute.URLMapDefaultUrlRedirectArgs(
            https_redirect=weak != "http-proxy", strip_query=False
        ),
    )
    gcp.compute.TargetHttpProxy("http", url_map=redirect.id)
    gcp.gkebackup.BackupPlan(
        "gke-backup",
        cluster="projects/clinical/locations/europe-west2/clusters/clinical",
        location="europe-west2",
        backup_config=gcp.gkebackup.BackupPlanBackupConfigArgs(
            selected_namespaces=gcp.gkebackup.BackupPlanBackupConfigSelectedNamespacesArgs(namespaces=["stenosis"]),
            include_volume_data=weak != "gke-backup",
            encryption_key=gcp.gkebackup.BackupPlanBackupConfigEncryptionKeyArgs(gcp_kms_encryption_key=key.id),
        ),
        backup_schedule=gcp.gkebackup.BackupPlanBackupScheduleArgs(cron_schedule="0 3 * * *"),
        retention_policy=gcp.gkebackup.BackupPlanRetentionPolicyArgs(backup_retain_days=35),
        opts=protect,
    )


WEAKENED = {
    "key": "gcp-kms-rotation",
    "key-iam": "gcp-iam-least-privilege",
    "vpc": "gcp-vpc-custom-mode",
    "subnet": "gcp-subnet-flow-logs",
    "firewall": "gcp-firewall-no-world-ingress",
    "db": "gcp-sql-tls-required",
    "cache": "gcp-redis-tls-auth",
    "bucket": "gcp-gcs-public-access-prevention",
    "bucket-iam": "gcp-gcs-not-public",
    "secret": "gcp-protect-stateful-prod",
    "template": "gcp-vm-no-external-ip",
    "instance": "gcp-vm-service-account",
    "ssl-policy": "gcp-ssl-policy-tls12",
    "armor": "gcp-cloud-armor-waf",
    "backend": "gcp-backend-tls",
    "https-proxy": "gcp-https-proxy-ssl-policy",
    "http-proxy": "gcp-http-proxy-redirects",
    "gke-backup": "gcp-gke-backup",
}


def gcp_findings(weaken: str | None) -> set[tuple[str, str]]:
    run = run_under_mocks(lambda: secure_program(weaken))
    found = review(run.resources, environment="prod", enforcement="mandatory")
    assert found.not_run == []
    return {(v.rule, v.resource_name) for v in found.violations if v.rule.startswith("gcp-")}


def test_the_secure_program_passes_every_gcp_rule_and_each_rule_judges_something() -> None:
    run = run_under_mocks(lambda: secure_program())
    judged = {r.name for r in GCP_RULES if any(rec.type in r.resource_types for rec in run.resources)}
    assert len(judged) >= 30  # the program exercises most rules, not only the ones with a weakening
    assert gcp_findings(None) == set()


@pytest.mark.parametrize(("weaken", "rule"), sorted(WEAKENED.items()))
def test_a_weakened_copy_of_each_resource_fails_with_the_right_rule(weaken: str, rule: str) -> None:
    findings = gcp_findings(weaken)
    assert findings and {r for r, _ in findings} == {rule}, findings


def test_gcp_types_the_rules_judge_have_a_kind_for_coverage() -> None:
    registered = {
        t.SQL_INSTANCE,
        t.REDIS,
        t.BUCKET,
        t.FIREWALL,
        t.HTTPS_PROXY,
        t.CRYPTO_KEY,
        t.SECRET,
        t.INSTANCE_TEMPLATE,
        t.REGION_INSTANCE_TEMPLATE,
        t.NETWORK,
        t.SUBNETWORK,
        t.SSL_POLICY,
        t.HTTP_PROXY,
        t.BACKEND_SERVICE,
        t.SECURITY_POLICY,
        *t.BUCKET_IAM,
        t.PROJECT_IAM_MEMBER,
        t.CRYPTO_KEY_IAM_MEMBER,
        t.SECRET_IAM_MEMBER,
        t.GKE_BACKUP_PLAN,
    }
    assert [rt for rt in sorted(registered) if profile_for(rt) is None] == []


def test_the_gcp_policy_page_lists_every_gcp_rule_and_no_other() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "policy-gcp.md").read_text(encoding="utf-8")
    assert set(re.findall(r"`(gcp-[a-z0-9-]+)`", page)) == {r.name for r in GCP_RULES}
    # The rules table: one row per rule, with the rule's own family, severity and default enforcement.
    rows = re.findall(r"^\| `(gcp-[a-z0-9-]+)`(?: \(stack\))? \| ([a-z-]+) \| ([a-z]+) \| \**([a-z]+)\**", page, re.M)
    assert sorted(name for name, *_ in rows) == sorted(r.name for r in GCP_RULES)
    for name, family, severity, default in rows:
        rule = RULE_NAMES[name]
        assert (family, severity, default) == (rule.family, rule.severity, rule.default_enforcement), name


def test_a_pure_cache_needs_no_snapshots_but_a_queue_does() -> None:
    # allkeys-* may drop any key at any time: the instance is a cache by its own settings.
    cache = changed(REDIS, persistenceConfig=DROP, redisConfigs={"maxmemory-policy": "allkeys-lru"})
    assert violations("gcp-redis-resilience", t.REDIS, cache) == []
    queue = changed(REDIS, persistenceConfig=DROP, redisConfigs={"maxmemory-policy": "noeviction"})
    assert violations("gcp-redis-resilience", t.REDIS, queue) == [
        "res keeps no RDB snapshots (persistenceConfig.persistenceMode is not RDB)"
    ]


def test_a_flag_naming_a_secret_is_not_a_secret() -> None:
    fetch = "gcloud secrets versions access latest --secret='stenosis-detection-runtime' --project='p'\n"
    named = changed(TEMPLATE, metadata={**METADATA, "user-data": USER_DATA + fetch})
    assert violations("gcp-vm-metadata-no-secrets", t.INSTANCE_TEMPLATE, named) == []
    leaked = changed(TEMPLATE, metadata={**METADATA, "user-data": USER_DATA + "SECRET='stenosis-detection-runtime'\n"})
    assert violations("gcp-vm-metadata-no-secrets", t.INSTANCE_TEMPLATE, leaked)
