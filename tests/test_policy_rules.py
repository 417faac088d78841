"""Every AWS, secret and certificate rule, and the new Docker rules, on a compliant and a non-compliant resource.

Each case runs through the ``pulumi_policy`` object the engine runs, with the
engine's camelCase property shapes (including the alternative shapes the
provider accepts: inline security group blocks, IPv6, port ranges, "all").
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy import PolicyResource as EnginePolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy import ALL_POLICIES, RULE_NAMES, RULES, STACK_RULES
from policy import docker_rules as docker_r
from policy import secret_rules as secret_r
from policy.aws_rules import tokens as aws_r

POLICIES = {p.name: p for p in ALL_POLICIES}
Res = tuple[str, str, dict[str, Any], list[str]]  # (type, name, props, names it depends on)
PROD = {"tags": {"environment": "prod", "owner": "o", "data-classification": "phi"}}
KEY = "arn:aws:kms:eu-west-2:123456789012:key/abc"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


PHI_TAGS = {"data-classification": "phi"}


def violations(
    rule: str, resource_type: str, props: dict[str, Any], protect: bool = False, config: dict[str, Any] | None = None
) -> list[str]:
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), "urn:x", "res", opts, None, config)
    found: list[str] = []
    validate: Any = POLICIES[rule].validate
    validate(args, lambda message, urn=None: found.append(message))
    return found


def lt(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "networkInterfaces": [{"associatePublicIpAddress": "false"}],
        "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true", "kmsKeyId": KEY}}],
        "iamInstanceProfile": {"arn": "arn:aws:iam::1:instance-profile/p"},
        "monitoring": {"enabled": True},
        "userData": base64.b64encode(b"#cloud-config\nwrite_files: []\n").decode(),
        **PROD,
    }
    base.update(changes)
    return base


CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    # (rule, type, compliant, non-compliant, expected text)
    (
        "aws-lb-phi-not-world",
        aws_r.SG_INGRESS,
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "198.51.100.0/24", "tags": PHI_TAGS},
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0", "tags": PHI_TAGS},
        "admits ['0.0.0.0/0'] on port 443/tcp on a PHI stack",
    ),
    (
        "aws-lb-phi-not-world",
        aws_r.SG_INGRESS,
        {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv6": "::/0", "tags": {"data-classification": "pii"}},
        {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv6": "::/0", "tags": PHI_TAGS},
        "admits ['::/0'] on port 80/tcp",
    ),
    (
        "aws-alb-listener-tls12",
        aws_r.LISTENERS[0],
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
        "allows TLS below 1.2",
    ),
    (
        "aws-alb-listener-tls12",
        aws_r.LISTENERS[0],
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06"},
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"},
        "weak ciphers",
    ),
    (
        "aws-alb-listener-tls12",
        aws_r.LISTENERS[1],
        {"protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}]},
        {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]},
        "serves plain HTTP",
    ),
    (
        "aws-alb-target-tls",
        aws_r.TARGET_GROUPS[0],
        {"protocol": "HTTPS", "healthCheck": {"protocol": "HTTPS", "path": "/healthz"}},
        {"protocol": "HTTP", "healthCheck": {"protocol": "HTTP", "path": "/healthz"}},
        "over HTTP: the hop inside the VPC is unencrypted",
    ),
    (
        "aws-alb-target-tls",
        aws_r.TARGET_GROUPS[0],
        {"protocol": "HTTPS", "targetType": "instance"},
        {"protocol": "HTTPS", "healthCheck": {"protocol": "HTTP"}},
        "health-checks its targets over HTTP",
    ),
    (
        "aws-rds-force-ssl",
        aws_r.RDS_PARAMS,
        {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
        {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "0"}]},
        "rds.force_ssl=1",
    ),
    (
        "aws-elasticache-transit-encryption",
        aws_r.REDIS,
        {"transitEncryptionEnabled": True, "authToken": "t" * 32},
        {"transitEncryptionEnabled": False},
        "unencrypted connections",
    ),
    (
        "aws-s3-tls-only",
        aws_r.BUCKET_POLICY,
        {
            "policy": json.dumps(
                {"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
            )
        },
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]})},
        "does not deny requests without TLS",
    ),
    (
        "aws-ebs-encrypted",
        aws_r.LAUNCH_TEMPLATE,
        lt(),
        lt(blockDeviceMappings=[{"deviceName": "/dev/sda1", "ebs": {"encrypted": "false"}}]),
        "/dev/sda1 is not encrypted",
    ),
    ("aws-ebs-encrypted", aws_r.EBS_VOLUME, {"encrypted": True}, {"encrypted": False}, "is not encrypted"),
    (
        "aws-rds-encrypted",
        aws_r.RDS,
        {"storageEncrypted": True},
        {"storageEncrypted": False},
        "storage is not encrypted",
    ),
    (
        "aws-rds-encrypted",
        aws_r.RDS,
        {"storageEncrypted": True, "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY},
        {"storageEncrypted": True, "performanceInsightsEnabled": True},
        "Performance Insights",
    ),
    ("aws-elasticache-at-rest", aws_r.REDIS, {"atRestEncryptionEnabled": True}, {}, "not encrypted at rest"),
    ("aws-kms-rotation", aws_r.KMS_KEY, {"enableKeyRotation": True}, {"enableKeyRotation": False}, "does not rotate"),
    ("aws-cmk-in-prod", aws_r.RDS, {**PROD, "kmsKeyId": KEY}, {**PROD}, "AWS-managed key"),
    ("aws-cmk-in-prod", aws_r.LOG_GROUP, {"tags": {"environment": "staging"}}, {**PROD}, "AWS-managed key"),
    ("aws-cmk-in-prod", aws_r.EBS_VOLUME, {**PROD, "kmsKeyId": KEY}, {**PROD, "encrypted": True}, "AWS-managed key"),
    ("aws-cmk-in-prod", aws_r.BACKUP_VAULT, {**PROD, "kmsKeyArn": KEY}, {**PROD}, "AWS-managed key"),
    (
        "aws-backup-plan-retention",
        aws_r.BACKUP_PLAN,
        {**PROD, "rules": [{"ruleName": "daily", "schedule": "cron(0 3 * * ? *)", "lifecycle": {"deleteAfter": 35}}]},
        {**PROD, "rules": [{"ruleName": "daily", "schedule": "cron(0 3 * * ? *)", "lifecycle": {"deleteAfter": 7}}]},
        "rule 'daily' keeps recovery points 7 days; keep at least 30 in prod",
    ),
    (
        "aws-backup-plan-retention",
        aws_r.BACKUP_PLAN,
        {"rules": [{"ruleName": "daily", "schedule": "cron(0 3 * * ? *)", "lifecycle": {"deleteAfter": 7}}]},
        {"rules": [{"ruleName": "daily", "lifecycle": {"deleteAfter": 7}}]},
        "has no schedule",
    ),
    (
        "aws-asg-elb-health-check",
        aws_r.AUTOSCALING_GROUP,
        {"targetGroupArns": ["arn:aws:elasticloadbalancing:x:1:targetgroup/t/1"], "healthCheckType": "ELB"},
        {"targetGroupArns": ["arn:aws:elasticloadbalancing:x:1:targetgroup/t/1"]},
        "checks its VMs' health the EC2 way",
    ),
    (
        "aws-alb-drop-invalid-headers",
        aws_r.LOAD_BALANCERS[0],
        {"dropInvalidHeaderFields": True, "desyncMitigationMode": "strictest"},
        {"dropInvalidHeaderFields": True, "desyncMitigationMode": "monitor"},
        "desyncMitigationMode monitor",
    ),
    (
        "aws-listener-acm-certificate",
        aws_r.LISTENERS[0],
        {"protocol": "HTTPS", "certificateArn": "arn:aws:acm:eu-west-2:123456789012:certificate/abc"},
        {"protocol": "HTTPS", "certificateArn": "arn:aws:iam::123456789012:server-certificate/web"},
        "not ACM's (arn:aws:iam::123456789012:server-certificate/web)",
    ),
    (
        "aws-rds-minor-upgrades",
        aws_r.RDS,
        {"engine": "postgres"},
        {"autoMinorVersionUpgrade": False},
        "does not take minor version upgrades",
    ),
    (
        "aws-kms-key-policy",
        aws_r.KMS_KEY,
        {
            "policy": json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*"},
                        # A * principal scoped by a condition is how services are let in: not a finding.
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "kms:Decrypt",
                            "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}},
                        },
                    ]
                }
            )
        },
        {"policy": json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "kms:*"}})},
        "lets any principal (kms:*) use the key",
    ),
    (
        "aws-kms-key-policy",
        aws_r.KMS_KEY,
        {"bypassPolicyLockoutSafetyCheck": False},
        {"bypassPolicyLockoutSafetyCheck": True},
        "bypasses the policy lockout safety check",
    ),
    (
        "aws-s3-policy-not-public",
        aws_r.BUCKET_POLICY,
        {"policy": json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]})},
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]})},
        "allows s3:GetObject to any principal",
    ),
    (
        "docker-env-tls-verification",
        docker_r.CONTAINER,
        {"envs": ["PYTHONHTTPSVERIFY=1", "REQUESTS_CA_BUNDLE=/etc/ssl/stack-ca.pem"]},
        {"envs": ["LOG_LEVEL=info", "NODE_TLS_REJECT_UNAUTHORIZED=0"]},
        "NODE_TLS_REJECT_UNAUTHORIZED=0 turns TLS certificate verification off",
    ),
    (
        "docker-env-tls-verification",
        docker_r.CONTAINER,
        {"envs": ["GIT_SSL_NO_VERIFY="]},
        {"envs": ["PIP_TRUSTED_HOST=pypi.internal"]},
        "PIP_TRUSTED_HOST=pypi.internal",
    ),
    (
        "aws-no-admin-ports",
        aws_r.SG_INGRESS,
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "10.0.0.0/8"},
        {"ipProtocol": "tcp", "fromPort": 20, "toPort": 25, "cidrIpv4": "10.1.2.3/32"},
        "SSH (22/tcp)",
    ),
    (
        "aws-no-admin-ports",
        aws_r.SG,
        {"vpcId": "v"},
        {"vpcId": "v", "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]},
        "RDP (3389/-1)",
    ),
    (
        "aws-rds-not-public",
        aws_r.RDS,
        {"publiclyAccessible": False},
        {"publiclyAccessible": True},
        "publicly accessible",
    ),
    (
        "aws-no-public-ip",
        aws_r.LAUNCH_TEMPLATE,
        lt(),
        lt(networkInterfaces=[{"associatePublicIpAddress": "true"}]),
        "public IP",
    ),
    (
        "aws-no-public-ip",
        aws_r.SUBNET,
        {"mapPublicIpOnLaunch": False},
        {"mapPublicIpOnLaunch": True},
        "public IP addresses",
    ),
    (
        "aws-imdsv2-required",
        aws_r.LAUNCH_TEMPLATE,
        lt(),
        lt(metadataOptions={"httpTokens": "optional"}),
        "allows IMDSv1",
    ),
    (
        "aws-alb-drop-invalid-headers",
        aws_r.LOAD_BALANCERS[0],
        {"dropInvalidHeaderFields": True},
        {"loadBalancerType": "application"},
        "invalid HTTP header",
    ),
    (
        "aws-rds-backup-retention",
        aws_r.RDS,
        {**PROD, "backupRetentionPeriod": 35},
        {**PROD, "backupRetentionPeriod": 7},
        "keep at least 30",
    ),
    (
        "aws-rds-prod-protection",
        aws_r.RDS,
        {**PROD, "deletionProtection": True, "multiAz": True, "skipFinalSnapshot": False},
        {**PROD, "deletionProtection": False, "multiAz": True},
        "no deletion protection in prod",
    ),
    (
        "aws-elasticache-resilience",
        aws_r.REDIS,
        {**PROD, "snapshotRetentionLimit": 7, "automaticFailoverEnabled": True, "multiAzEnabled": True},
        {**PROD, "snapshotRetentionLimit": 7},
        "no automatic multi-AZ failover",
    ),
    (
        "aws-s3-versioning",
        aws_r.BUCKET_VERSIONING,
        {"versioningConfiguration": {"status": "Enabled"}},
        {"versioningConfiguration": {"status": "Suspended"}},
        "versioning is Suspended",
    ),
    (
        "aws-s3-public-access-block",
        aws_r.BUCKET_PAB,
        {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True},
        {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True, "restrictPublicBuckets": True},
        "blockPublicPolicy",
    ),
    (
        "aws-alb-deletion-protection-prod",
        aws_r.LOAD_BALANCERS[0],
        {**PROD, "enableDeletionProtection": True},
        {**PROD},
        "no deletion protection",
    ),
    (
        "aws-alb-access-logs",
        aws_r.LOAD_BALANCERS[1],
        {"accessLogs": {"enabled": True, "bucket": "logs"}},
        {"accessLogs": {"enabled": False}},
        "does not write access logs",
    ),
    ("aws-rds-log-exports", aws_r.RDS, {"enabledCloudwatchLogsExports": ["postgresql"]}, {}, "does not export"),
    (
        "aws-log-group-encrypted-retained",
        aws_r.LOG_GROUP,
        {"kmsKeyId": KEY, "retentionInDays": 365},
        {"kmsKeyId": KEY, "retentionInDays": 0},
        "keeps logs forever",
    ),
    (
        "aws-default-sg-closed",
        aws_r.DEFAULT_SG,
        {"vpcId": "v"},
        {"vpcId": "v", "ingress": [{"protocol": "-1", "self": True}]},
        "strip them all",
    ),
    (
        "aws-sg-egress-restricted",
        aws_r.SG_EGRESS,
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"},
        {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"},
        "ports 0-65535",
    ),
    (
        "aws-waf-managed-rules",
        aws_r.WAF,
        {
            "rules": [
                {"statement": {"managedRuleGroupStatement": {"name": n}}}
                for n in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
            ],
            "visibilityConfig": {"cloudwatchMetricsEnabled": True},
        },
        {"rules": [], "visibilityConfig": {"cloudwatchMetricsEnabled": True}},
        "lacks the managed rule groups",
    ),
    ("aws-vm-hardening", aws_r.LAUNCH_TEMPLATE, lt(), lt(keyName="ops-key"), "SSH key pair ops-key"),
    ("aws-vm-monitoring", aws_r.LAUNCH_TEMPLATE, lt(), lt(monitoring={"enabled": False}), "no detailed monitoring"),
    (
        "aws-user-data-no-secrets",
        aws_r.LAUNCH_TEMPLATE,
        lt(),
        lt(userData=base64.b64encode(b"#!/bin/bash\nexport DB_PASSWORD=hunter2hunter2\n").decode()),
        "user data contains a secret",
    ),
    (
        "aws-user-data-no-secrets",
        aws_r.INSTANCE,
        {"userData": "#!/bin/bash\necho ok"},
        {"userData": "-----BEGIN RSA PRIVATE KEY-----"},
        "user data contains a secret",
    ),
    (
        "aws-secret-managed",
        aws_r.SECRET,
        {"kmsKeyId": KEY, "recoveryWindowInDays": 30},
        {"kmsKeyId": KEY, "recoveryWindowInDays": 0},
        "without a recovery window",
    ),
    (
        "aws-acm-certificate",
        aws_r.ACM_CERT,
        {"validationMethod": "DNS", "keyAlgorithm": "EC_prime256v1"},
        {"validationMethod": "EMAIL"},
        "validated by EMAIL",
    ),
    (
        "aws-iam-least-privilege",
        aws_r.ROLE_POLICY,
        {
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}]}
            )
        },
        {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})},
        "on every resource",
    ),
    (
        "aws-iam-least-privilege",
        aws_r.ROLE,
        {
            "assumeRolePolicy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]}
            )
        },
        {"assumeRolePolicy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]})},
        "assumed by anyone",
    ),
    (
        "aws-iam-least-privilege",
        aws_r.ROLE_ATTACHMENT,
        {"policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "AdministratorAccess",
    ),
    (
        "aws-rds-enhanced-monitoring",
        aws_r.RDS,
        {"monitoringInterval": 60, "monitoringRoleArn": "arn:aws:iam::1:role/rds-monitoring"},
        {"monitoringInterval": 0},
        "no enhanced monitoring",
    ),
    (
        "aws-rds-enhanced-monitoring",
        aws_r.RDS,
        {"monitoringInterval": 15, "monitoringRoleArn": "arn:aws:iam::1:role/rds-monitoring"},
        {"monitoringInterval": 60},
        "without a monitoring role",
    ),
    (
        "aws-rds-password-rotation",
        aws_r.RDS,
        {"manageMasterUserPassword": True, "masterUserSecretKmsKeyId": KEY},
        {"password": "p" * 32},
        "never rotates",
    ),
    (
        "aws-rds-password-rotation",
        aws_r.RDS_CLUSTER,
        {"manageMasterUserPassword": "true"},
        {"masterPasswordWo": "p" * 32},
        "(masterPasswordWo) that never rotates",
    ),
    (
        "aws-rds-password-rotation",
        aws_r.RDS,
        {"username": "app"},  # no password at all (restored from a snapshot): nothing to rotate here
        {"password": UNKNOWN_STRING_VALUE},  # a generated password, unknown at preview, is still the program's own
        "never rotates",
    ),
    ("aws-s3-no-public-acl", aws_r.BUCKET_ACL, {"acl": "private"}, {"acl": "public-read"}, "anyone may read"),
    (
        "aws-s3-no-public-acl",
        aws_r.BUCKET_ACL_V2,
        {"acl": "log-delivery-write"},
        {"acl": "authenticated-read"},
        "any AWS account may read",
    ),
    (
        "aws-s3-no-public-acl",
        aws_r.BUCKET_ACL,
        {
            "accessControlPolicy": {
                "grants": [{"grantee": {"type": "CanonicalUser", "id": "abc"}, "permission": "FULL_CONTROL"}],
                "owner": {"id": "abc"},
            }
        },
        {
            "accessControlPolicy": {
                "grants": [{"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "WRITE"}],
                "owner": {"id": "abc"},
            }
        },
        "grants WRITE to everyone",
    ),
    (
        "aws-s3-no-public-acl",
        aws_r.BUCKET_OBJECT_V2,
        {"acl": "bucket-owner-full-control"},
        {"acl": "public-read-write"},
        "anyone may read and write",
    ),
    ("aws-s3-no-public-acl", aws_r.BUCKET_OBJECT, {}, {"acl": "public-read"}, "canned ACL public-read"),
    (
        "aws-s3-no-public-acl",
        aws_r.BUCKET,
        {"grants": [{"type": "CanonicalUser", "id": "abc", "permissions": ["FULL_CONTROL"]}]},
        {"grants": [{"type": "Group", "uri": AUTHENTICATED_USERS, "permissions": ["READ", "READ_ACP"]}]},
        "grants READ, READ_ACP to every AWS account",
    ),
    ("aws-s3-no-public-acl", aws_r.BUCKET_V2, {"acl": "private"}, {"acl": "public-read"}, "anyone may read"),
    (
        "aws-imds-hop-limit",
        aws_r.LAUNCH_TEMPLATE,
        lt(),
        lt(metadataOptions={"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 2}),
        "travel 2 hops: every container can take the instance role",
    ),
    (
        "aws-imds-hop-limit",
        aws_r.INSTANCE,
        {"metadataOptions": {"httpEndpoint": "disabled"}},  # no metadata service: nothing to reach
        {"metadataOptions": {"httpTokens": "required"}},
        "AMI's default",
    ),
    ("aws-required-tags", aws_r.RDS, {**PROD}, {"tags": {"owner": "o"}}, "lacks tags"),
    # generated secrets and certificates
    ("generated-secret-strength", secret_r.PASSWORD, {"length": 32}, {"length": 8}, "use at least 16"),
    (
        "generated-secret-strength",
        secret_r.PASSWORD,
        {"length": 32},
        {"length": 32, "upper": False, "lower": False},
        "fewer than two",
    ),
    ("generated-secret-strength", secret_r.BYTES, {"length": 32}, {"length": 16}, "use at least 32"),
    (
        "tls-private-key-strength",
        secret_r.PRIVATE_KEY,
        {"algorithm": "ECDSA", "ecdsaCurve": "P384"},
        {"algorithm": "ECDSA"},
        "weak curve",
    ),
    (
        "tls-private-key-strength",
        secret_r.PRIVATE_KEY,
        {"algorithm": "RSA", "rsaBits": 4096},
        {"algorithm": "RSA", "rsaBits": 1024},
        "1024 bits",
    ),
    (
        "tls-certificate-profile",
        secret_r.LOCALLY_SIGNED,
        {"validityPeriodHours": 8760, "allowedUses": ["server_auth"]},
        {"validityPeriodHours": 87600, "allowedUses": ["server_auth"]},
        "at most 398",
    ),
    (
        "tls-certificate-profile",
        secret_r.SELF_SIGNED,
        {"isCaCertificate": True, "validityPeriodHours": 43800, "allowedUses": ["cert_signing"]},
        {"isCaCertificate": True, "validityPeriodHours": 43800, "allowedUses": ["server_auth"]},
        "without the cert_signing use",
    ),
    (
        "tls-certificate-profile",
        secret_r.CERT_REQUEST,
        {"dnsNames": ["a.example.org"]},
        {"subject": {"commonName": "a"}},
        "subjectAltName",
    ),
    # docker
    (
        "docker-postgres-tls",
        docker_r.CONTAINER,
        {
            "image": "pgvector/pgvector:0.8.0-pg16",
            "command": ["postgres", "-c", "ssl=on"],
            "uploads": [{"file": "/etc/postgresql/pg_hba.conf", "content": "hostnossl all all all reject\n"}],
        },
        {
            "image": "postgres:16.6",
            "command": ["postgres", "-c", "ssl=on"],
            "uploads": [{"file": "/etc/postgresql/pg_hba.conf", "content": "host all all all scram-sha-256\n"}],
        },
        "without TLS (no pg_hba.conf",
    ),
    (
        "docker-postgres-tls",
        docker_r.CONTAINER,
        {"image": "redis:7.2.7"},
        {"image": "registry.example/postgres:16"},
        "(-c ssl=on)",
    ),
    (
        # The image's client tools under another program (a backup service's pg_dump) run no server; the image's
        # own entrypoint with another command still runs one.
        "docker-postgres-tls",
        docker_r.CONTAINER,
        {"image": "postgres:16.6", "entrypoints": ["bash", "-c", "pg_dump ..."]},
        {"image": "postgres:16.6", "entrypoints": ["docker-entrypoint.sh"], "command": ["postgres"]},
        "(-c ssl=on)",
    ),
    (
        "docker-container-logs",
        docker_r.CONTAINER,
        {"logDriver": "json-file", "logOpts": {"max-size": "50m"}},
        {"logDriver": "none"},
        "keeps no audit trail",
    ),
    ("docker-container-logs", docker_r.CONTAINER, {"logDriver": "journald"}, {"logDriver": "json-file"}, "not rotated"),
    (
        "docker-network-exposure",
        docker_r.NETWORK,
        {"internal": True, "labels": [{"label": "clinical.platform/network", "value": "backend"}]},
        {"internal": False, "labels": [{"label": "clinical.platform/network", "value": "backend"}]},
        "backend network but routes off the host",
    ),
    (
        "docker-network-exposure",
        docker_r.NETWORK,
        {"internal": False, "labels": [{"label": "clinical.platform/network", "value": "edge"}]},
        {"internal": False},
        "without being the proxy's edge",
    ),
    (
        "docker-volume-disk-encryption",
        docker_r.VOLUME,
        {"labels": [{"label": "clinical.platform/disk-encryption", "value": "luks"}]},
        {"labels": [{"label": "clinical.platform/disk-encryption", "value": "none"}]},
        "not attested as encrypted (none)",
    ),
    (
        "docker-required-labels",
        docker_r.CONTAINER,
        {
            "labels": [
                {"label": f"clinical.platform/{k}", "value": "x"}
                for k in ("environment", "owner", "data-classification")
            ]
        },
        {"labels": []},
        "lacks labels",
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


def test_every_resource_rule_has_a_case_or_a_dedicated_test() -> None:
    covered = {c[0] for c in CASES}
    dedicated = {r.name for r in RULES if r.name.startswith("docker-")} - covered  # tests/test_policy_docker.py
    dedicated |= {r.name for r in RULES if r.name.startswith("gcp-")}  # tests/test_policy_gcp.py
    dedicated |= {r.name for r in RULES if r.name.startswith(("k8s-", "eks-", "gke-"))}  # tests/test_policy_k8s.py
    missing = {r.name for r in RULES} - covered - dedicated - {"aws-protect-stateful-prod"}
    assert missing == set()


def _aws_sdk_source(token: str) -> str:
    """The source file of the pulumi_aws class a type token names (``aws:s3/bucketAclV2:BucketAclV2``)."""
    module, class_name = token.split(":")[1].split("/")[0], token.split(":")[2]
    cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), class_name)
    return Path(inspect.getfile(cls)).read_text(encoding="utf-8")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_aws_token_is_one_the_installed_sdk_registers() -> None:
    tokens = {t for r in [*RULES, *STACK_RULES] if r.name.startswith("aws-") for t in r.resource_types}
    tokens |= {aws_r.WAF_ASSOCIATION, aws_r.WAF_LOGGING, *aws_r.S3_ACL_TYPES}
    for token in sorted(tokens):
        assert f"'{token}'" in _aws_sdk_source(token), token


def test_protect_in_prod_reads_the_resource_options() -> None:
    assert violations("aws-protect-stateful-prod", aws_r.RDS, {**PROD}, protect=True) == []
    assert "protect=True" in violations("aws-protect-stateful-prod", aws_r.RDS, {**PROD})[0]
    assert violations("aws-protect-stateful-prod", aws_r.RDS, {"tags": {"environment": "staging"}}) == []
    assert (
        violations(
            "docker-volume-protected-in-prod",
            docker_r.VOLUME,
            {"labels": [{"label": "clinical.platform/environment", "value": "prod"}]},
            protect=True,
        )
        == []
    )
    assert violations(
        "docker-volume-protected-in-prod",
        docker_r.VOLUME,
        {"labels": [{"label": "clinical.platform/environment", "value": "prod"}]},
    )


STAGING_PHI = {"tags": {"environment": "staging", "owner": "o", "data-classification": "phi"}}


def test_prod_grade_data_protection_follows_phi_as_well_as_prod() -> None:
    """A staging database tagged phi gets prod's protections (or needs a signed waiver); one without PHI does not."""
    weak = {**STAGING_PHI, "deletionProtection": False, "skipFinalSnapshot": True, "multiAz": False}
    found = violations("aws-rds-prod-protection", aws_r.RDS, weak)
    assert "res has no deletion protection with PHI (data-classification phi)" in found and len(found) == 3
    strong = {**STAGING_PHI, "deletionProtection": True, "skipFinalSnapshot": False, "multiAz": True}
    assert violations("aws-rds-prod-protection", aws_r.RDS, strong) == []
    internal = {"tags": {"environment": "staging", "data-classification": "internal"}, "deletionProtection": False}
    assert violations("aws-rds-prod-protection", aws_r.RDS, internal) == []
    # The stack's classification (policy-pack config) applies to resources without the tag.
    untagged = {"deletionProtection": False, "skipFinalSnapshot": False, "multiAz": True}
    config = {"environment": "staging", "dataClassification": "phi"}
    assert violations("aws-rds-prod-protection", aws_r.RDS, untagged, config=config) == [
        "res has no deletion protection with PHI (data-classification phi)"
    ]
    assert violations("aws-rds-prod-protection", aws_r.RDS, untagged, config={"environment": "staging"}) == []
    # The other prod-grade data protections follow the same scope.
    assert (
        "keep at least 30 with PHI"
        in violations("aws-rds-backup-retention", aws_r.RDS, {**STAGING_PHI, "backupRetentionPeriod": 7})[0]
    )
    assert (
        "with PHI"
        in violations("aws-elasticache-resilience", aws_r.REDIS, {**STAGING_PHI, "snapshotRetentionLimit": 1})[0]
    )
    assert "with PHI" in violations("aws-protect-stateful-prod", aws_r.BUCKET, {**STAGING_PHI})[0]
    # The state disks and their backup vaults (ADR 0018) too.
    for state in (aws_r.EBS_VOLUME, aws_r.BACKUP_VAULT):
        assert "with PHI" in violations("aws-protect-stateful-prod", state, {**STAGING_PHI})[0]
        assert violations("aws-protect-stateful-prod", state, {**STAGING_PHI}, protect=True) == []
    assert "with PHI" in violations("aws-cmk-in-prod", aws_r.SECRET, {**STAGING_PHI})[0]
    # Not data protection: a load balancer's deletion protection stays a prod matter.
    assert violations("aws-alb-deletion-protection-prod", aws_r.LOAD_BALANCERS[0], {**STAGING_PHI}) == []


# --- stack rules ------------------------------------------------------------------------------------------------------


def stack_violations(rule: str, resources: list[tuple[str, str, dict[str, Any], list[str]]]) -> list[tuple[str, str]]:
    """Run one stack policy on (type, name, props, dependency names) the way AnalyzeStack wires them."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    built = {
        name: EnginePolicyResource(t, unknown_checking_proxy(p), f"urn:{name}", name, opts, None, None, [], {})
        for t, name, p, _ in resources
    }
    for _, name, _, deps in resources:
        built[name].dependencies = [built[d] for d in deps]
    found: list[tuple[str, str]] = []
    validate: Any = POLICIES[rule].validate
    validate(StackValidationArgs(list(built.values())), lambda message, urn=None: found.append((urn or "", message)))
    return found


def full_bucket(
    name: str = "data", algorithm: str = "aws:kms", tags: dict[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    tls = json.dumps({"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    return [
        (aws_r.BUCKET, name, {"tags": tags or {}}, []),
        (
            aws_r.BUCKET_SSE,
            f"{name}-sse",
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}]},
            [name],
        ),
        (aws_r.BUCKET_PAB, f"{name}-pab", {}, [name]),
        (aws_r.BUCKET_POLICY, f"{name}-policy", {"policy": tls}, [name]),
        (aws_r.BUCKET_VERSIONING, f"{name}-versioning", {}, [name]),
        (aws_r.BUCKET_LOGGING, f"{name}-logging", {}, [name]),
    ]


@pytest.mark.parametrize(
    ("rule", "drop", "expected"),
    [
        ("aws-s3-bucket-encrypted", aws_r.BUCKET_SSE, "no server-side encryption configuration"),
        ("aws-s3-bucket-tls-only", aws_r.BUCKET_POLICY, "no policy denying non-TLS"),
        ("aws-s3-bucket-private", aws_r.BUCKET_PAB, "no public access block"),
        ("aws-s3-bucket-versioned", aws_r.BUCKET_VERSIONING, "no versioning configuration"),
        ("aws-s3-bucket-logged", aws_r.BUCKET_LOGGING, "writes no server access logs"),
    ],
)
def test_bucket_stack_rules(rule: str, drop: str, expected: str) -> None:
    assert stack_violations(rule, full_bucket()) == []
    found = stack_violations(rule, [r for r in full_bucket() if r[0] != drop])
    assert found == [("urn:data", next(m for _, m in found))] and expected in found[0][1]


def test_bucket_encryption_allows_sse_s3_only_for_log_buckets() -> None:
    assert "uses AES256" in stack_violations("aws-s3-bucket-encrypted", full_bucket(algorithm="AES256"))[0][1]
    assert (
        stack_violations("aws-s3-bucket-encrypted", full_bucket(algorithm="AES256", tags={"role": "access-logs"})) == []
    )


def test_flow_logs_default_sg_and_rds_tls_stack_rules() -> None:
    assert (
        stack_violations("aws-vpc-flow-logs", [(aws_r.VPC, "vpc", {}, []), (aws_r.FLOW_LOG, "fl", {}, ["vpc"])]) == []
    )
    assert stack_violations("aws-vpc-flow-logs", [(aws_r.VPC, "vpc", {}, [])]) == [("urn:vpc", "vpc has no flow log")]
    assert (
        stack_violations(
            "aws-vpc-default-sg-managed", [(aws_r.VPC, "vpc", {}, []), (aws_r.DEFAULT_SG, "d", {}, ["vpc"])]
        )
        == []
    )
    assert stack_violations("aws-vpc-default-sg-managed", [(aws_r.VPC, "vpc", {}, [])])
    params: Res = (
        aws_r.RDS_PARAMS,
        "pg",
        {"name": "pg-1", "family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
        [],
    )
    assert (
        stack_violations("aws-rds-tls-enforced", [params, (aws_r.RDS, "db", {"parameterGroupName": "pg-1"}, ["pg"])])
        == []
    )
    found = stack_violations(
        "aws-rds-tls-enforced", [params, (aws_r.RDS, "db", {"parameterGroupName": "default.postgres16"}, [])]
    )
    assert found == [("urn:db", "db does not use a parameter group that sets rds.force_ssl=1")]


def test_database_behind_a_world_open_group_is_flagged() -> None:
    sg: Res = (aws_r.SG, "db-sg", {"vpcId": "v"}, [])
    closed = (
        aws_r.SG_INGRESS,
        "in",
        {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "referencedSecurityGroupId": "sg-w"},
        ["db-sg"],
    )
    opened = (
        aws_r.SG_INGRESS,
        "in",
        {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "0.0.0.0/0"},
        ["db-sg"],
    )
    db = (aws_r.RDS, "db", {"publiclyAccessible": False}, ["db-sg"])
    assert stack_violations("aws-db-not-world-reachable", [sg, closed, db]) == []
    assert stack_violations("aws-db-not-world-reachable", [sg, opened, db]) == [
        ("urn:db", "db is reachable from the internet through db-sg (in)")
    ]


def test_public_route_without_authentication_is_flagged() -> None:
    from components.runtimes.docker_host.proxy import ProxyRoute, render_nginx_conf

    conf = render_nginx_conf([ProxyRoute("api.example.org", "sys-api", 8000, None, 10, 60)])
    labels = [{"label": docker_r.ROLE_LABEL, "value": "proxy"}]
    proxy: Res = (
        docker_r.CONTAINER,
        "proxy",
        {"labels": labels, "uploads": [{"file": "/etc/nginx/nginx.conf", "content": conf}]},
        [],
    )

    def api(auth: str) -> Res:
        props = {
            "labels": [{"label": docker_r.AUTH_LABEL, "value": auth}],
            "networksAdvanced": [{"name": "f", "aliases": ["sys-api"]}],
        }
        return (docker_r.CONTAINER, "api", props, [])

    assert stack_violations("docker-route-authenticated", [proxy, api("app")]) == []
    found = stack_violations("docker-route-authenticated", [proxy, api("proxy")])
    assert found == [
        (
            "urn:proxy",
            "proxy: https://api.example.org reaches sys-api with no authentication at the proxy or in the app",
        )
    ]
    guarded = render_nginx_conf([ProxyRoute("api.example.org", "sys-api", 8000, "/etc/nginx/auth/s.htpasswd", 10, 60)])
    proxy_guarded: Res = (
        proxy[0],
        proxy[1],
        {**proxy[2], "uploads": [{"file": "/etc/nginx/nginx.conf", "content": guarded}]},
        [],
    )
    assert stack_violations("docker-route-authenticated", [proxy_guarded, api("proxy")]) == []


ALB = "arn:aws:elasticloadbalancing:eu-west-2:1:loadbalancer/app/web/1"
ACL = "arn:aws:wafv2:eu-west-2:1:regional/webacl/web/1"
WAF_LOG_GROUP = "arn:aws:logs:eu-west-2:1:log-group:aws-waf-logs-web"


def edge(internal: bool = False, associate: str | None = ALB, depends: bool = True, lb_arn: str = ALB) -> list[Res]:
    """An ALB and, unless ``associate`` is None, a web ACL associated with ``associate`` (depending on the ALB)."""
    resources: list[Res] = [
        (aws_r.LOAD_BALANCERS[0], "alb", {"arn": lb_arn, "internal": internal, "loadBalancerType": "application"}, [])
    ]
    if associate is not None:
        resources.append((aws_r.WAF, "acl", {"arn": ACL}, []))
        resources.append(
            (
                aws_r.WAF_ASSOCIATION,
                "assoc",
                {"resourceArn": associate, "webAclArn": ACL},
                ["acl", *(["alb"] if depends else [])],
            )
        )
    return resources


def test_an_internet_facing_alb_needs_a_waf_association_of_the_stack() -> None:
    assert stack_violations("aws-alb-waf", edge()) == []
    assert stack_violations("aws-alb-waf", edge(internal=True, associate=None)) == []  # internal: no WAF needed
    missing = [("urn:alb", "alb faces the internet with no WAF web ACL associated")]
    assert stack_violations("aws-alb-waf", edge(associate=None)) == missing
    # An association with another load balancer (by ARN) does not cover this one, even if it depends on it.
    assert stack_violations("aws-alb-waf", edge(associate="arn:aws:elasticloadbalancing:x:1:other")) == missing
    # At preview both ARNs are unknown: the association's dependency on the ALB decides, and nothing crashes.
    unknown = edge(associate=UNKNOWN_STRING_VALUE, lb_arn=UNKNOWN_STRING_VALUE)
    assert stack_violations("aws-alb-waf", unknown) == []
    foreign = edge(associate=UNKNOWN_STRING_VALUE, lb_arn=UNKNOWN_STRING_VALUE, depends=False)
    assert stack_violations("aws-alb-waf", foreign) == missing


def waf_logs(group: dict[str, Any] | None = None, redact: tuple[str, ...] = ("authorization", "cookie")) -> list[Res]:
    log_group = {"arn": WAF_LOG_GROUP, "name": "aws-waf-logs-web", "kmsKeyId": KEY, "retentionInDays": 365}
    return [
        (aws_r.WAF, "acl", {"arn": ACL}, []),
        (aws_r.LOG_GROUP, "waf-logs", {**log_group, **(group or {})}, []),
        (
            aws_r.WAF_LOGGING,
            "logging",
            {
                "resourceArn": ACL,
                "logDestinationConfigs": [WAF_LOG_GROUP],
                "redactedFields": [{"singleHeader": {"name": h}} for h in redact],
            },
            ["acl", "waf-logs"],
        ),
    ]


def test_a_web_acl_logs_to_an_encrypted_retained_group_without_credentials() -> None:
    assert stack_violations("aws-waf-logging", waf_logs()) == []
    assert stack_violations("aws-waf-logging", waf_logs(redact=("Authorization", "Cookie"))) == []  # any case

    def messages(resources: list[Res]) -> list[str]:
        found = stack_violations("aws-waf-logging", resources)
        assert {urn for urn, _ in found} == {"urn:acl"}
        return [m for _, m in found]

    assert "has no logging configuration" in messages(waf_logs()[:1])[0]
    assert "logs the cookie header(s) in clear" in messages(waf_logs(redact=("authorization",)))[0]
    weak = messages(waf_logs({"name": "waf", "kmsKeyId": None, "retentionInDays": 0}))
    assert len(weak) == 3 and "aws-waf-logs-*" in weak[0] and "customer-managed key" in weak[1] and "forever" in weak[2]
    elsewhere = waf_logs()
    elsewhere[2] = (
        *elsewhere[2][:2],
        {**elsewhere[2][2], "logDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-x"]},
        ["acl"],
    )
    assert "not to a log group of this stack" in messages(elsewhere)[0]
    # At preview the log group's ARN and key are unknown: the dependency and the key's presence decide.
    preview = waf_logs({"arn": UNKNOWN_STRING_VALUE, "kmsKeyId": UNKNOWN_STRING_VALUE})
    preview[2] = (*preview[2][:2], {**preview[2][2], "logDestinationConfigs": [UNKNOWN_STRING_VALUE]}, preview[2][3])
    assert stack_violations("aws-waf-logging", preview) == []


def lb_edge(
    group_ingress: dict[str, Any], internal: bool = False, attached: bool = True, lb_props: dict[str, Any] | None = None
) -> list[Res]:
    """A security group with one ingress rule and, when ``attached``, a load balancer that names the group."""
    resources: list[Res] = [
        (aws_r.SG, "lb-sg", {"vpcId": "v"}, []),
        (aws_r.SG_INGRESS, "lb-sg-in", group_ingress, ["lb-sg"]),
    ]
    if attached:
        lb = {"internal": internal, "securityGroups": [UNKNOWN_STRING_VALUE], **(lb_props or {})}
        resources.append((aws_r.LOAD_BALANCERS[0], "foreign-alb", lb, ["lb-sg"]))
    return resources


HTTPS_FROM_ANYWHERE = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}


def test_world_ingress_is_judged_by_the_load_balancer_a_group_is_attached_to_not_by_tags() -> None:
    rule = "aws-sg-no-world-ingress"
    # A foreign stack's group, untagged, attached to its internet-facing ALB: 443 (and ::/0 on 80) pass.
    assert stack_violations(rule, lb_edge(HTTPS_FROM_ANYWHERE)) == []
    http6 = {"ipProtocol": "6", "fromPort": 80, "toPort": 80, "cidrIpv6": "::/0"}
    assert stack_violations(rule, lb_edge(http6, lb_props={"securityGroups": ["sg-123"]})) == []
    # Inline blocks on a group the load balancer names.
    inline: list[Res] = [
        (
            aws_r.SG,
            "web",
            {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]},
            [],
        ),
        (aws_r.LOAD_BALANCERS[1], "alb", {"loadBalancerType": "network"}, ["web"]),
    ]
    assert stack_violations(rule, inline) == []
    # A tag is no pass: a group tagged role=load-balancer that no load balancer uses fails.
    tagged = lb_edge({**HTTPS_FROM_ANYWHERE, "tags": {"role": "load-balancer"}}, attached=False)
    assert "lb-sg-in (group lb-sg) opens port 443/tcp" in stack_violations(rule, tagged)[0][1]
    # An internal load balancer's group, and anything but 80/443 on an internet-facing one's, fail.
    assert stack_violations(rule, lb_edge(HTTPS_FROM_ANYWHERE, internal=True))
    ssh = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}
    assert "port 22/tcp" in stack_violations(rule, lb_edge(ssh))[0][1]
    wide = {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}
    assert "ports 0-65535/-1" in stack_violations(rule, lb_edge(wide))[0][1]
    # An internal flag unknown at preview does not make a load balancer internet-facing.
    unknown_internal = lb_edge(HTTPS_FROM_ANYWHERE, lb_props={"internal": UNKNOWN_STRING_VALUE})
    assert stack_violations(rule, unknown_internal)


def test_a_database_group_with_443_open_to_the_world_fails() -> None:
    rule = "aws-sg-no-world-ingress"
    db_group: list[Res] = [
        (aws_r.SG, "db-sg", {"vpcId": "v"}, []),
        (aws_r.SG_INGRESS, "db-sg-in", HTTPS_FROM_ANYWHERE, ["db-sg"]),
    ]
    rds: Res = (aws_r.RDS, "db", {"vpcSecurityGroupIds": [UNKNOWN_STRING_VALUE]}, ["db-sg"])
    expected = [
        (
            "urn:db-sg-in",
            "db-sg-in (group db-sg) opens port 443/tcp to ['0.0.0.0/0']; only a group attached to an internet-facing "
            "load balancer of this stack may accept 80/443 from anywhere",
        )
    ]
    assert stack_violations(rule, [*db_group, rds]) == expected  # attached to a database
    assert stack_violations(rule, db_group) == expected  # attached to nothing
    # Beside an internet-facing load balancer of the same stack that does not name the group: still a finding.
    alb: Res = (aws_r.LOAD_BALANCERS[0], "alb", {"internal": False}, [])
    assert stack_violations(rule, [*db_group, rds, alb]) == expected
    # A rule that depends on the load balancer's group and the database's (its own is not known): conservative.
    both: list[Res] = [
        (aws_r.SG, "lb-sg", {}, []),
        (aws_r.SG, "db-sg", {}, []),
        (aws_r.SG_INGRESS, "in", {**HTTPS_FROM_ANYWHERE, "securityGroupId": UNKNOWN_STRING_VALUE}, ["lb-sg", "db-sg"]),
        (aws_r.LOAD_BALANCERS[0], "alb", {"internal": False}, ["lb-sg"]),
    ]
    assert [urn for urn, _ in stack_violations(rule, both)] == ["urn:in"]
    # A CIDR unknown at preview is judged at `up`: no finding and no crash now.
    unknown = [
        (aws_r.SG, "g", {}, []),
        (aws_r.SG_INGRESS, "g-in", {**HTTPS_FROM_ANYWHERE, "cidrIpv4": UNKNOWN_STRING_VALUE}, ["g"]),
    ]
    assert stack_violations(rule, unknown) == []
    # Rules that open nothing to the world, in every shape, pass.
    private: list[Res] = [
        (
            aws_r.SG,
            "p",
            {"ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}]},
            [],
        ),
        (
            aws_r.SG_RULE,
            "p-rule",
            {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/8"]},
            ["p"],
        ),
        (
            aws_r.SG_INGRESS,
            "p-in",
            {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "referencedSecurityGroupId": "sg-1"},
            ["p"],
        ),
    ]
    assert stack_violations(rule, private) == []
    world_rule: list[Res] = [
        (aws_r.SG, "p", {}, []),
        (
            aws_r.SG_RULE,
            "p-rule",
            {"type": "ingress", "protocol": "tcp", "fromPort": 8000, "toPort": 9000, "cidrBlocks": ["0.0.0.0/0"]},
            ["p"],
        ),
    ]
    assert "ports 8000-9000/tcp" in stack_violations(rule, world_rule)[0][1]


def test_every_stack_rule_is_tested_here() -> None:
    tested = {
        "docker-app-least-privilege-credentials",
        "aws-sg-no-world-ingress",
        "aws-alb-waf",
        "aws-waf-logging",
        "aws-s3-bucket-encrypted",
        "aws-s3-bucket-tls-only",
        "aws-s3-bucket-private",
        "aws-s3-bucket-versioned",
        "aws-s3-bucket-logged",
        "aws-vpc-flow-logs",
        "aws-vpc-default-sg-managed",
        "aws-rds-tls-enforced",
        "aws-db-not-world-reachable",
        "docker-route-authenticated",
        "aws-ebs-in-backup-plan",
        "aws-backup-vault-locked",
        "managed-db-app-not-master",
    }
    # GCP: tests/test_policy_gcp.py; Kubernetes and EKS: tests/test_policy_k8s.py
    assert {r.name for r in STACK_RULES if not r.name.startswith(("gcp-", "k8s-", "eks-"))} == tested
    assert all(RULE_NAMES[name].remediation for name in tested)


def test_an_application_holding_a_stores_admin_credentials_is_flagged() -> None:
    """Judged by what the containers are: the store defines its superuser/root credentials, any other container
    carrying them (the password, or a URL logging into that server as its superuser) is a finding."""

    def container(name: str, env: dict[str, str], aliases: tuple[str, ...] = ()) -> Res:
        props = {
            "envs": [f"{k}={v}" for k, v in env.items()],
            "networksAdvanced": [{"name": "backend", "aliases": list(aliases)}],
        }
        return (docker_r.CONTAINER, name, props, [])

    db = container("db", {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "adm1n", "POSTGRES_DB": "kb"}, ("db",))
    minio = container("minio", {"MINIO_ROOT_USER": "root", "MINIO_ROOT_PASSWORD": "r00tpw"}, ("minio",))
    setup = container(
        "minio-setup", {"MINIO_ROOT_USER": "root", "MINIO_ROOT_PASSWORD": "r00tpw", "APP_SECRET_KEY": "apppw"}
    )
    good = container("api", {"DATABASE_URL": "postgresql://kb:s3cret@db:5432/kb", "S3_SECRET": "apppw"})
    assert stack_violations("docker-app-least-privilege-credentials", [db, minio, setup, good]) == []

    superuser = container("api", {"DATABASE_URL": "postgresql://postgres:other@db:5432/kb"})
    root_s3 = container("worker", {"AWS_SECRET_ACCESS_KEY": "r00tpw"})
    admin_pw = container("exporter", {"DATA_SOURCE_PASS": "adm1n"})
    found = stack_violations("docker-app-least-privilege-credentials", [db, minio, superuser, root_s3, admin_pw])
    assert found == [
        ("urn:api", "api: holds the PostgreSQL superuser credentials; give it the system's application credentials"),
        ("urn:worker", "worker: holds the MinIO root credentials; give it the system's application credentials"),
        (
            "urn:exporter",
            "exporter: holds the PostgreSQL superuser credentials; give it the system's application credentials",
        ),
    ]
    # A user named like the superuser on another server is not this server's superuser.
    elsewhere = container("api", {"DATABASE_URL": "postgresql://postgres:x@rds.example:5432/kb"})
    assert stack_violations("docker-app-least-privilege-credentials", [db, elsewhere]) == []


VOLUME_ARN = "arn:aws:ec2:eu-west-2:123456789012:volume/vol-0abc"


def state_disk(selection: dict[str, Any] | None = None, depends: bool = True) -> list[Res]:
    """A state volume, and a backup selection of a plan (``selection``: its inputs, the volume's ARN by default)."""
    return [
        (aws_r.EBS_VOLUME, "state", {"arn": VOLUME_ARN, "tags": {"tier": "state"}}, []),
        (aws_r.BACKUP_PLAN, "plan", {}, []),
        (
            aws_r.BACKUP_SELECTION,
            "selection",
            selection or {"resources": [VOLUME_ARN]},
            ["plan", *(["state"] if depends else [])],
        ),
    ]


def test_an_ebs_volume_must_be_in_a_backup_plan_selection() -> None:
    missing = [("urn:state", "state is in no AWS Backup plan: a lost or corrupted volume cannot be restored")]
    assert stack_violations("aws-ebs-in-backup-plan", state_disk()) == []
    assert stack_violations("aws-ebs-in-backup-plan", state_disk()[:2]) == missing
    # A selection of another volume does not cover this one, even when it depends on it.
    other = {"resources": ["arn:aws:ec2:eu-west-2:123456789012:volume/vol-0other"]}
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(other)) == missing
    # An ARN pattern, or tags the volume carries, select it too (the selection's own tags, never the volume's alone).
    pattern = {"resources": ["arn:aws:ec2:*:*:volume/*"]}
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(pattern, depends=False)) == []
    tagged = {"resources": [], "selectionTags": [{"type": "STRINGEQUALS", "key": "tier", "value": "state"}]}
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(tagged, depends=False)) == []
    other_tag = {"resources": [], "selectionTags": [{"type": "STRINGEQUALS", "key": "tier", "value": "cache"}]}
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(other_tag, depends=False)) == missing
    # At preview the volume's ARN is unknown: the selection's dependency on the volume decides.
    unknown = {"resources": [UNKNOWN_STRING_VALUE]}
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(unknown)) == []
    assert stack_violations("aws-ebs-in-backup-plan", state_disk(unknown, depends=False)) == missing


def vault(lock: dict[str, Any] | None) -> list[Res]:
    resources: list[Res] = [(aws_r.BACKUP_VAULT, "vault", {"name": "state-vault"}, [])]
    if lock is not None:
        resources.append((aws_r.BACKUP_VAULT_LOCK, "lock", {"backupVaultName": "state-vault", **lock}, ["vault"]))
    return resources


def test_a_protected_backup_vault_must_be_locked() -> None:
    def run(protect: bool, lock: dict[str, Any] | None) -> list[tuple[str, str]]:
        opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
        built = {
            name: EnginePolicyResource(t, unknown_checking_proxy(p), f"urn:{name}", name, opts, None, None, [], {})
            for t, name, p, _ in vault(lock)
        }
        for _, name, _, deps in vault(lock):
            built[name].dependencies = [built[d] for d in deps]
        found: list[tuple[str, str]] = []
        validate: Any = POLICIES["aws-backup-vault-locked"].validate
        validate(StackValidationArgs(list(built.values())), lambda m, urn=None: found.append((urn or "", m)))
        return found

    assert run(protect=True, lock={"minRetentionDays": 35, "changeableForDays": 3}) == []
    assert run(protect=False, lock=None) == []  # a deletable (dev) vault need not be locked
    assert "is protected but not locked" in run(protect=True, lock=None)[0][1]
    assert "sets no minimum retention" in run(protect=True, lock={"changeableForDays": 3})[0][1]


def test_a_pod_or_vm_service_holding_a_managed_databases_master_login_is_flagged() -> None:
    """The masters come from the databases (RDS username/password, Cloud SQL built-in users); only the job whose
    secret carries the role set-up SQL may hold them."""
    rds: Res = (secret_r.RDS_INSTANCE, "db", {"username": "kb", "password": "m4ster-password"}, [])
    sql_user: Res = (secret_r.CLOUD_SQL_USER, "user", {"name": "kb", "password": "cl0udsql-password"}, [])

    def pod_secret(service: str, data: dict[str, str]) -> Res:
        meta = {"name": f"{service}-env", "namespace": "clinical-kb"}
        return (secret_r.K8S_SECRET, f"{service}-env", {"metadata": meta, "stringData": data}, [])

    setup = pod_secret(
        "kb-setup", {"PGPASSWORD": "m4ster-password", "SETUP_SQL": "ALTER ROLE x NOCREATEDB NOCREATEROLE"}
    )
    api = pod_secret("api", {"DATABASE_URL": "postgresql://kb_app:app-password@db:5432/kb"})
    assert stack_violations("managed-db-app-not-master", [rds, sql_user, setup, api]) == []
    message = (
        "{}: holds a managed database's master user credentials; give it the application role "
        "(${{postgres:<db>.url}}) or the monitoring role (${{postgres:<db>.monitor_url}})"
    )
    exporter = pod_secret(
        "exporter", {"DATA_SOURCE_NAME": "postgresql://kb_monitor:x@db/kb?password=cl0udsql-password"}
    )
    worker = pod_secret("worker", {"DATABASE_URL": "postgresql://kb:whatever@db:5432/kb"})
    document = {"env": {"api": {"DATABASE_URL": "postgresql://kb:__CLINICAL_BOOT_SECRET__kb__url__@h/kb"}}}
    vm: Res = (secret_r.AWS_SECRET_VERSION, "runtime", {"secretString": json.dumps(document)}, [])
    found = stack_violations("managed-db-app-not-master", [rds, sql_user, setup, exporter, worker, vm])
    assert sorted(found) == sorted(
        [
            ("urn:exporter-env", message.format("exporter")),
            ("urn:worker-env", message.format("worker")),
            ("urn:runtime", message.format("api")),
        ]
    )
    # Without a managed database nothing is judged (a Docker host's superuser has its own rule).
    assert stack_violations("managed-db-app-not-master", [worker]) == []
