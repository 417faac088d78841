"""Rules for every AWS resource type the platform creates, in the families a hospital review expects.

Checks accept every shape the provider accepts: separate rule resources
and inline security group blocks, IPv4 and IPv6, port ranges and the
"all protocols" value, and missing optional blocks. Names follow checkov /
cdk-nag where one exists (comments give the equivalent).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
RDS = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_PARAMS = "aws:rds/parameterGroup:ParameterGroup"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EBS_VOLUME = "aws:ebs/volume:Volume"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
WAF = "aws:wafv2/webAcl:WebAcl"
ACM_CERT = "aws:acm/certificate:Certificate"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
BROAD_MANAGED_POLICIES = {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AmazonS3FullAccess"}

WORLD = {"0.0.0.0/0", "::/0"}
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
TLS12_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2",
    "ELBSecurityPolicy-TLS13-1-3",
    "ELBSecurityPolicy-TLS-1-2",
    "ELBSecurityPolicy-FS-1-2",
)
REQUIRED_TAGS = ("environment", "owner", "data-classification")
TAGGABLE = (VPC, SUBNET, SG, LAUNCH_TEMPLATE, RDS, REDIS, BUCKET, KMS_KEY, SECRET, LOG_GROUP, *LOAD_BALANCERS)


def _tags(props: Mapping[str, Any]) -> dict[str, str]:
    tags = props.get("tags") or {}
    if isinstance(tags, list):  # auto scaling group style
        return {str(t.get("key")): str(t.get("value")) for t in tags if t}
    return {str(k): str(v) for k, v in dict(tags).items()}


def _is_prod(props: Mapping[str, Any], ctx: CheckContext) -> bool:
    return (_tags(props).get("environment") or ctx.environment) == "prod"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# --- firewall -------------------------------------------------------------------------------


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int]:
    """The port range a rule opens; "all protocols" (-1) opens everything."""
    if str(protocol) in {"-1", "all"}:
        return 0, 65535
    low = int(from_port if from_port not in (None, "") else 0)
    high = int(to_port if to_port not in (None, "") else low)
    if low == -1:
        return 0, 65535
    return low, high


def _ingress(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[set[str], str, int, int]]:
    """(source CIDRs, protocol, from, to) of every ingress a resource opens, in any accepted shape."""
    if resource_type == SG_INGRESS:
        cidrs = {c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c}
        low, high = _ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
        yield cidrs, str(props.get("ipProtocol")), low, high
    elif resource_type == SG_RULE and props.get("type") == "ingress":
        cidrs = set(props.get("cidrBlocks") or []) | set(props.get("ipv6CidrBlocks") or [])
        low, high = _ports(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
        yield cidrs, str(props.get("protocol")), low, high
    elif resource_type == SG:
        for block in props.get("ingresses") or props.get("ingress") or []:
            if not block:
                continue
            cidrs = set(block.get("cidrBlocks") or []) | set(block.get("ipv6CidrBlocks") or [])
            low, high = _ports(block.get("protocol"), block.get("fromPort"), block.get("toPort"))
            yield cidrs, str(block.get("protocol")), low, high


def check_no_world_ingress(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    on_lb = _tags(props).get("role") == "load-balancer"
    for cidrs, protocol, low, high in _ingress(ctx.resource_type, props):
        world = cidrs & WORLD
        if not world:
            continue
        web_only = protocol in {"tcp", "6"} and low == high and low in {80, 443}
        if not (on_lb and web_only):
            where = f"ports {low}-{high}" if low != high else f"port {low}"
            yield f"{ctx.name} opens {where}/{protocol} to {sorted(world)}; only the load balancer may accept 80/443 from anywhere"


def check_no_admin_ports(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for cidrs, protocol, low, high in _ingress(ctx.resource_type, props):
        for port, what in ADMIN_PORTS.items():
            if low <= port <= high and cidrs:
                yield f"{ctx.name} opens {what} ({port}/{protocol}) to {sorted(cidrs)}; manage VMs through SSM Session Manager"


def check_rds_private(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _truthy(props.get("publiclyAccessible")):
        yield f"{ctx.name} is publicly accessible"


def check_no_public_ip(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _truthy(props.get("mapPublicIpOnLaunch")) or _truthy(props.get("associatePublicIpAddress")):
        yield f"{ctx.name} gives instances public IP addresses"
    for nic in props.get("networkInterfaces") or []:
        if nic and _truthy(nic.get("associatePublicIpAddress")):
            yield f"{ctx.name} attaches a public IP address to its network interface"


def check_imdsv2(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    options = props.get("metadataOptions") or {}
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required":
        yield f"{ctx.name} allows IMDSv1 (metadataOptions.httpTokens is not 'required')"


def check_alb_headers(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("loadBalancerType", "application") == "application" and not _truthy(
        props.get("dropInvalidHeaderFields")
    ):
        yield f"{ctx.name} forwards invalid HTTP header fields (request smuggling); set dropInvalidHeaderFields"


# --- TLS ------------------------------------------------------------------------------------


def check_listener_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    protocol = str(props.get("protocol") or "").upper()
    if protocol in {"HTTPS", "TLS"}:
        policy = str(props.get("sslPolicy") or "")
        # The -Ext policies add CBC suites for old clients; research (policy-controls.md T2) rejects them.
        if not policy.startswith(TLS12_POLICIES) or "-Ext" in policy:
            yield f"{ctx.name} uses TLS policy '{policy or 'default'}', which allows TLS below 1.2 or weak ciphers"
    elif protocol == "HTTP":
        for action in props.get("defaultActions") or []:
            redirect = (action or {}).get("redirect") or {}
            if action.get("type") != "redirect" or str(redirect.get("protocol", "")).upper() != "HTTPS":
                yield f"{ctx.name} serves plain HTTP instead of redirecting to HTTPS"
    elif protocol in {"TCP", "UDP", "TCP_UDP"}:
        yield f"{ctx.name} listens on {protocol} without TLS"


def check_rds_force_ssl(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    family = str(props.get("family") or "")
    if not family.startswith("postgres"):
        return
    params = {str(p.get("name")): str(p.get("value")) for p in props.get("parameters") or [] if p}
    if params.get("rds.force_ssl") != "1":
        yield f"{ctx.name} does not set rds.force_ssl=1, so clients may connect without TLS"


def check_redis_transit(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _truthy(props.get("transitEncryptionEnabled")):
        yield f"{ctx.name} accepts unencrypted connections (transitEncryptionEnabled is off)"
    if not props.get("authToken") and not props.get("userGroupIds"):
        yield f"{ctx.name} has no AUTH token or user group"


def check_bucket_policy_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _denies_insecure_transport(props.get("policy")):
        yield f"{ctx.name} does not deny requests without TLS (aws:SecureTransport false)"


def _denies_insecure_transport(policy: Any) -> bool:
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy or {}
    except json.JSONDecodeError:
        return False
    statements = document.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    for st in statements:
        condition = json.dumps(st.get("Condition") or {})
        if st.get("Effect") == "Deny" and "aws:SecureTransport" in condition and "false" in condition:
            return True
    return False


# --- encryption at rest ---------------------------------------------------------------------


def check_ebs_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if "encrypted" in props and not _truthy(props.get("encrypted")):  # aws:ebs/volume
        yield f"{ctx.name} is not encrypted"
    for mapping in props.get("blockDeviceMappings") or []:
        ebs = (mapping or {}).get("ebs")
        if ebs is not None and not _truthy(ebs.get("encrypted")):
            yield f"{ctx.name} {mapping.get('deviceName')} is not encrypted"
    root = props.get("rootBlockDevice")
    if root is not None and not _truthy(root.get("encrypted")):
        yield f"{ctx.name} root volume is not encrypted"


def check_rds_encrypted(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _truthy(props.get("storageEncrypted")):
        yield f"{ctx.name} storage is not encrypted"
    if _truthy(props.get("performanceInsightsEnabled")) and not props.get("performanceInsightsKmsKeyId"):
        yield f"{ctx.name} Performance Insights is not encrypted with the stack key"


def check_redis_at_rest(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _truthy(props.get("atRestEncryptionEnabled")):
        yield f"{ctx.name} is not encrypted at rest"


def check_kms_rotation(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if str(props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT" and not _truthy(
        props.get("enableKeyRotation")
    ):
        yield f"{ctx.name} does not rotate its key material"


def check_cmk_in_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _is_prod(props, ctx):
        return
    if "blockDeviceMappings" in props:
        for mapping in props.get("blockDeviceMappings") or []:
            ebs = (mapping or {}).get("ebs") or {}
            if not ebs.get("kmsKeyId"):
                yield f"{ctx.name} {mapping.get('deviceName')} uses the AWS-managed key, not the stack's customer-managed key"
    elif not props.get("kmsKeyId"):
        yield f"{ctx.name} uses the AWS-managed key, not the stack's customer-managed key"


def check_log_group(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("kmsKeyId"):
        yield f"{ctx.name} is not encrypted with a customer-managed key"
    retention = int(props.get("retentionInDays") or 0)
    if retention == 0 or retention < 365:
        yield f"{ctx.name} keeps logs {'forever' if retention == 0 else f'{retention} days'}; keep them 365 days or more"


# --- data protection ------------------------------------------------------------------------


def check_rds_backups(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    days = int(props.get("backupRetentionPeriod") or 0)
    floor = 30 if _is_prod(props, ctx) else 7
    if days < floor:
        yield f"{ctx.name} keeps backups {days} days; keep at least {floor}"


def check_rds_prod_protection(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _is_prod(props, ctx):
        return
    if not _truthy(props.get("deletionProtection")):
        yield f"{ctx.name} has no deletion protection in prod"
    if _truthy(props.get("skipFinalSnapshot")):
        yield f"{ctx.name} skips the final snapshot in prod"
    if not _truthy(props.get("multiAz")):
        yield f"{ctx.name} is single-AZ in prod"


def check_redis_resilience(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if int(props.get("snapshotRetentionLimit") or 0) < 1:
        yield f"{ctx.name} keeps no snapshots"
    if _is_prod(props, ctx) and not (
        _truthy(props.get("automaticFailoverEnabled")) and _truthy(props.get("multiAzEnabled"))
    ):
        yield f"{ctx.name} has no automatic multi-AZ failover in prod"


def check_versioning(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    status = (props.get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        yield f"{ctx.name} versioning is {status or 'off'}"


def check_public_access_block(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if not _truthy(props.get(f))]
    if off:
        yield f"{ctx.name} leaves {off} off"


def check_alb_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _is_prod(props, ctx) and not _truthy(props.get("enableDeletionProtection")):
        yield f"{ctx.name} has no deletion protection in prod"


def check_protect_in_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _is_prod(props, ctx) and not ctx.protect:
        yield f"{ctx.name} holds state in prod but is not created with protect=True"


# --- audit and governance -------------------------------------------------------------------


def check_alb_access_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    logs = props.get("accessLogs") or {}
    if not (_truthy(logs.get("enabled")) and logs.get("bucket")):
        yield f"{ctx.name} does not write access logs"


def check_rds_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    exports = set(props.get("enabledCloudwatchLogsExports") or [])
    if "postgresql" not in exports:
        yield f"{ctx.name} does not export its PostgreSQL log to CloudWatch"


def check_required_tags(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    missing = [t for t in REQUIRED_TAGS if not _tags(props).get(t)]
    if missing:
        yield f"{ctx.name} lacks tags {missing}"


def _make(name: str, family: Any, severity: Any, description: str, remediation: str, hipaa: str, types: tuple[str, ...],
          check: Any, nist: str, enforcement: Any = "mandatory") -> Rule:  # fmt: skip
    return Rule(name=name, family=family, severity=severity, description=description, remediation=remediation,
                hipaa=hipaa, resource_types=types, check=check, nist=nist, default_enforcement=enforcement)  # fmt: skip


def check_default_sg_closed(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("ingress") or props.get("egress"):
        yield f"{ctx.name} keeps rules on the VPC's default security group; strip them all"


def check_egress(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    world = {props.get("cidrIpv4"), props.get("cidrIpv6")} & WORLD
    if not world:
        return
    low, high = _ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
    if (low, high) == (0, 65535) or high - low > 0:
        yield f"{ctx.name} allows ports {low}-{high} to the internet; allow single ports (443, 587) only"


def check_waf(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    groups = set()
    for rule in props.get("rules") or []:
        statement = ((rule or {}).get("statement") or {}).get("managedRuleGroupStatement") or {}
        groups.add(statement.get("name"))
    missing = {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} - groups
    if missing:
        yield f"{ctx.name} lacks the managed rule groups {sorted(missing)}"
    if not _truthy((props.get("visibilityConfig") or {}).get("cloudwatchMetricsEnabled")):
        yield f"{ctx.name} records no metrics"


def check_vm_hardening(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("keyName"):
        yield f"{ctx.name} installs the SSH key pair {props.get('keyName')}; manage VMs through SSM"
    if not (props.get("iamInstanceProfile") or {}).get("arn") and not (props.get("iamInstanceProfile") or {}).get(
        "name"
    ):
        yield f"{ctx.name} has no instance profile of its own (least-privilege role)"


def check_vm_monitoring(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _truthy((props.get("monitoring") or {}).get("enabled")):
        yield f"{ctx.name} has no detailed monitoring"


_USER_DATA_SECRETS = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|aws_secret_access_key|"
    r"(PASSWORD|SECRET|TOKEN|API_KEY)\s*[=:]\s*['\"]?[^\s'\"$<{]{8,})",
    re.I,
)


def check_user_data_secrets(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    raw = str(props.get("userData") or "")
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8", "replace") if raw else ""
    except (binascii.Error, ValueError):
        text = raw
    match = _USER_DATA_SECRETS.search(text)
    if match:
        yield f"{ctx.name} user data contains a secret ({match.group(0)[:24]}...); read it from Secrets Manager at boot"


def check_secret_store(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("kmsKeyId"):
        yield f"{ctx.name} is encrypted with the AWS-managed key, not the stack key"
    window = props.get("recoveryWindowInDays")
    if window is not None and int(window) < 7:
        yield f"{ctx.name} can be deleted without a recovery window"


def check_acm_certificate(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("certificateBody"):
        return  # an imported certificate: its profile is the issuer's
    if str(props.get("validationMethod") or "DNS") != "DNS":
        yield f"{ctx.name} is validated by {props.get('validationMethod')}; use DNS validation"
    algorithm = str(props.get("keyAlgorithm") or "RSA_2048")
    if algorithm in {"RSA_1024"}:
        yield f"{ctx.name} uses the weak key algorithm {algorithm}"
    options = props.get("options") or {}
    if str(options.get("certificateTransparencyLoggingPreference") or "ENABLED") != "ENABLED":
        yield f"{ctx.name} opts out of certificate transparency logging"


def check_iam_least_privilege(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if ctx.resource_type == ROLE_ATTACHMENT:
        arn = str(props.get("policyArn") or "")
        if arn.rsplit("/", 1)[-1] in BROAD_MANAGED_POLICIES:
            yield f"{ctx.name} attaches the broad managed policy {arn.rsplit('/', 1)[-1]}"
        return
    document = props.get("assumeRolePolicy" if ctx.resource_type == ROLE else "policy")
    try:
        parsed = json.loads(document) if isinstance(document, str) else document or {}
    except json.JSONDecodeError:
        return
    statements = parsed.get("Statement") or []
    for st in [statements] if isinstance(statements, dict) else statements:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = st.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        principal = st.get("Principal")
        if ctx.resource_type == ROLE and (
            principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
        ):
            yield f"{ctx.name} can be assumed by anyone"
        if any(a == "*" or a.endswith(":*") for a in actions) and "*" in resources:
            yield f"{ctx.name} allows {actions} on every resource"


SG_TYPES = (SG_INGRESS, SG_RULE, SG)

RULES: list[Rule] = [
    # TLS in transit
    _make("aws-alb-listener-tls12", "tls", "critical", "HTTPS listeners allow TLS 1.2+ only; HTTP listeners only redirect to HTTPS.",
          "Use ssl_policy ELBSecurityPolicy-TLS13-1-2-2021-06 and make port 80 a redirect to HTTPS (checkov CKV_AWS_103, CKV_AWS_2).",
          HIPAA["transmission-encryption"], LISTENERS, check_listener_tls, "NIST 800-53 SC-8"),
    _make("aws-rds-force-ssl", "tls", "critical", "PostgreSQL parameter groups require TLS (rds.force_ssl=1).",
          "Add the parameter rds.force_ssl = 1 to the instance's parameter group.",
          HIPAA["transmission-encryption"], (RDS_PARAMS,), check_rds_force_ssl, "NIST 800-53 SC-8"),
    _make("aws-elasticache-transit-encryption", "tls", "critical", "Redis requires TLS and an AUTH token.",
          "Set transit_encryption_enabled and auth_token at creation (changing them later replaces the group; checkov CKV_AWS_30/31).",
          HIPAA["transmission-encryption"], (REDIS,), check_redis_transit, "NIST 800-53 SC-8"),
    _make("aws-s3-tls-only", "tls", "high", "Bucket policies deny requests made without TLS.",
          "Add a Deny statement for aws:SecureTransport = false (cdk-nag S3BucketSSLRequestsOnly).",
          HIPAA["transmission-encryption"], (BUCKET_POLICY,), check_bucket_policy_tls, "NIST 800-53 SC-8"),
    # Encryption at rest
    _make("aws-ebs-encrypted", "encryption", "critical", "VM disks (launch templates, instances, volumes) are encrypted.",
          "Set ebs.encrypted = true with the stack key (checkov CKV_AWS_8/79).",
          HIPAA["encryption-at-rest"], (LAUNCH_TEMPLATE, INSTANCE, EBS_VOLUME), check_ebs_encrypted, "NIST 800-53 SC-28"),
    _make("aws-rds-encrypted", "encryption", "critical", "Database storage and Performance Insights are encrypted.",
          "Set storage_encrypted and performance_insights_kms_key_id (checkov CKV_AWS_16, CKV_AWS_354).",
          HIPAA["encryption-at-rest"], (RDS, RDS_CLUSTER), check_rds_encrypted, "NIST 800-53 SC-28"),
    _make("aws-elasticache-at-rest", "encryption", "critical", "Redis data and snapshots are encrypted at rest.",
          "Set at_rest_encryption_enabled with the stack key (checkov CKV_AWS_29).",
          HIPAA["encryption-at-rest"], (REDIS,), check_redis_at_rest, "NIST 800-53 SC-28"),
    _make("aws-kms-rotation", "encryption", "high", "Customer-managed symmetric keys rotate yearly.",
          "Set enable_key_rotation = true (checkov CKV_AWS_7).",
          HIPAA["encryption-at-rest"], (KMS_KEY,), check_kms_rotation, "NIST 800-53 SC-12"),
    _make("aws-cmk-in-prod", "encryption", "high", "In prod, data is encrypted with the stack's customer-managed key.",
          "Pass the stack key's ARN as kms_key_id (cdk-nag HIPAA *KMS rules).",
          HIPAA["encryption-at-rest"], (RDS, REDIS, SECRET, LOG_GROUP, LAUNCH_TEMPLATE), check_cmk_in_prod, "NIST 800-53 SC-12"),
    # Firewall and exposure
    _make("aws-sg-no-world-ingress", "firewall", "critical", "Nothing is open to 0.0.0.0/0 or ::/0 except 80/443 on the load balancer.",
          "Reference the peer security group instead of a CIDR; only the ALB takes 80/443 from anywhere (checkov CKV_AWS_260, CKV2_AWS_5).",
          HIPAA["access-control"], SG_TYPES, check_no_world_ingress, "NIST 800-53 SC-7"),
    _make("aws-no-admin-ports", "firewall", "critical", "SSH (22) and RDP (3389) are not opened to any address.",
          "Remove the rule; use SSM Session Manager (checkov CKV_AWS_24, CKV_AWS_25).",
          HIPAA["access-control"], SG_TYPES, check_no_admin_ports, "NIST 800-53 AC-17"),
    _make("aws-rds-not-public", "firewall", "critical", "Databases are not publicly accessible.",
          "Set publicly_accessible = false and use private subnets (checkov CKV_AWS_17).",
          HIPAA["access-control"], (RDS,), check_rds_private, "NIST 800-53 SC-7"),
    _make("aws-no-public-ip", "firewall", "high", "VMs and private subnets never get public IP addresses.",
          "Set associate_public_ip_address = false and map_public_ip_on_launch = false (checkov CKV_AWS_88, CKV_AWS_130).",
          HIPAA["access-control"], (LAUNCH_TEMPLATE, INSTANCE, SUBNET), check_no_public_ip, "NIST 800-53 SC-7"),
    _make("aws-imdsv2-required", "firewall", "high", "Instance metadata requires session tokens (IMDSv2).",
          "Set metadata_options.http_tokens = 'required' (checkov CKV_AWS_79).",
          HIPAA["access-control"], (LAUNCH_TEMPLATE, INSTANCE), check_imdsv2, "NIST 800-53 AC-3"),
    _make("aws-alb-drop-invalid-headers", "firewall", "medium", "Load balancers drop invalid HTTP header fields.",
          "Set drop_invalid_header_fields = true (checkov CKV_AWS_131).",
          HIPAA["integrity"], LOAD_BALANCERS, check_alb_headers, "NIST 800-53 SC-7"),
    # Data protection
    _make("aws-rds-backup-retention", "data-protection", "high", "Database backups are kept 7 days (30 in prod).",
          "Raise backup_retention_period (cdk-nag HIPAA.Security-RDSInBackupPlan).",
          HIPAA["contingency"], (RDS, RDS_CLUSTER), check_rds_backups, "NIST 800-53 CP-9"),
    _make("aws-rds-prod-protection", "data-protection", "high", "In prod, databases are multi-AZ, deletion-protected and keep a final snapshot.",
          "Set multi_az, deletion_protection and skip_final_snapshot = false (checkov CKV_AWS_157, CKV_AWS_293).",
          HIPAA["contingency"], (RDS,), check_rds_prod_protection, "NIST 800-53 CP-10"),
    _make("aws-elasticache-resilience", "data-protection", "medium", "Redis keeps snapshots; in prod it fails over across zones.",
          "Set snapshot_retention_limit >= 1, and automatic_failover_enabled and multi_az_enabled in prod.",
          HIPAA["contingency"], (REDIS,), check_redis_resilience, "NIST 800-53 CP-9"),
    _make("aws-s3-versioning", "data-protection", "high", "Buckets keep object versions.",
          "Add a BucketVersioning with status Enabled (checkov CKV_AWS_21).",
          HIPAA["integrity"], (BUCKET_VERSIONING,), check_versioning, "NIST 800-53 CP-9"),
    _make("aws-s3-public-access-block", "firewall", "critical", "Buckets block every form of public access.",
          "Add a BucketPublicAccessBlock with all four settings true (checkov CKV_AWS_53-56).",
          HIPAA["access-control"], (BUCKET_PAB,), check_public_access_block, "NIST 800-53 AC-3"),
    _make("aws-alb-deletion-protection-prod", "data-protection", "medium", "In prod, load balancers are deletion-protected.",
          "Set enable_deletion_protection = true (checkov CKV_AWS_150).",
          HIPAA["contingency"], LOAD_BALANCERS, check_alb_prod, "NIST 800-53 CP-10"),
    _make("aws-protect-stateful-prod", "data-protection", "high", "In prod, stateful resources are created with protect=True.",
          "Pass opts=ResourceOptions(protect=True); the platform's components do this when environment is prod.",
          HIPAA["contingency"], (RDS, REDIS, BUCKET, KMS_KEY, SECRET), check_protect_in_prod, "NIST 800-53 CP-9"),
    # Audit
    _make("aws-alb-access-logs", "audit", "medium", "Load balancers write access logs.",
          "Set access_logs {bucket, enabled = true} (checkov CKV_AWS_91).",
          HIPAA["audit"], LOAD_BALANCERS, check_alb_access_logs, "NIST 800-53 AU-2"),
    _make("aws-rds-log-exports", "audit", "medium", "Databases export their logs to CloudWatch.",
          "Set enabled_cloudwatch_logs_exports = ['postgresql', 'upgrade'] (checkov CKV_AWS_129).",
          HIPAA["audit"], (RDS,), check_rds_logs, "NIST 800-53 AU-12"),
    _make("aws-log-group-encrypted-retained", "data-protection", "medium", "Log groups are encrypted with the stack key and kept a year.",
          "Set kms_key_id and retention_in_days >= 365 (checkov CKV_AWS_158, CKV_AWS_338).",
          HIPAA["audit"], (LOG_GROUP,), check_log_group, "NIST 800-53 AU-11"),
    _make("aws-default-sg-closed", "firewall", "high", "The VPC's default security group has no rules.",
          "Manage it with aws.ec2.DefaultSecurityGroup and no ingress/egress (checkov CKV2_AWS_12).",
          HIPAA["access-control"], (DEFAULT_SG,), check_default_sg_closed, "NIST 800-53 SC-7"),
    _make("aws-sg-egress-restricted", "firewall", "medium", "Egress to the internet is limited to single named ports.",
          "Allow 443 (and 587 for mail) to 0.0.0.0/0; reach data services by security group.",
          HIPAA["access-control"], (SG_EGRESS,), check_egress, "NIST 800-53 SC-7(5)"),
    _make("aws-waf-managed-rules", "firewall", "medium", "The WAF applies the AWS common and known-bad-inputs rule groups and records metrics.",
          "Add the managed rule groups AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet.",
          HIPAA["malicious-software"], (WAF,), check_waf, "NIST 800-53 SI-3"),
    _make("aws-vm-hardening", "hardening", "high", "VMs carry no SSH key pair and run with their own least-privilege instance profile.",
          "Remove key_name; give the launch template an instance profile with only what the system needs.",
          HIPAA["access-control"], (LAUNCH_TEMPLATE, INSTANCE), check_vm_hardening, "NIST 800-53 AC-6"),
    _make("aws-vm-monitoring", "audit", "low", "VMs have detailed (1-minute) monitoring.",
          "Set monitoring.enabled = true (checkov CKV_AWS_126).",
          HIPAA["audit"], (LAUNCH_TEMPLATE, INSTANCE), check_vm_monitoring, "NIST 800-53 SI-4"),
    _make("aws-user-data-no-secrets", "secrets", "critical", "VM user data holds no secret (keys, passwords, tokens).",
          "Keep secrets in Secrets Manager and read them at boot with the instance role (checkov CKV_AWS_46).",
          HIPAA["encryption-at-rest"], (LAUNCH_TEMPLATE, INSTANCE), check_user_data_secrets, "NIST 800-53 IA-5(7)"),
    _make("aws-secret-managed", "secrets", "medium", "Secrets Manager secrets use the stack key and keep a recovery window.",
          "Set kms_key_id and recovery_window_in_days >= 7 (checkov CKV_AWS_149).",
          HIPAA["encryption-at-rest"], (SECRET,), check_secret_store, "NIST 800-53 SC-28"),
    _make("aws-acm-certificate", "tls", "medium", "ACM certificates are DNS-validated, strong and logged for transparency.",
          "Use validation_method DNS, an RSA 2048+/EC key and keep certificate transparency logging on.",
          HIPAA["transmission-encryption"], (ACM_CERT,), check_acm_certificate, "NIST 800-53 SC-17"),
    _make("aws-iam-least-privilege", "hardening", "high", "Roles are not assumable by anyone and their policies grant no wildcard actions on every resource.",
          "Name the actions and resources; never attach AdministratorAccess/PowerUserAccess (checkov CKV_AWS_274, CKV_AWS_355).",
          HIPAA["access-control"], (ROLE, ROLE_POLICY, ROLE_ATTACHMENT), check_iam_least_privilege, "NIST 800-53 AC-6"),
    _make("aws-required-tags", "governance", "low", "Resources carry environment, owner and data-classification tags.",
          "Set the stack's tags in config; the platform propagates them.",
          HIPAA["risk-management"], TAGGABLE, check_required_tags, "NIST 800-53 CM-8", "advisory"),
]  # fmt: skip


# --- stack-level rules ----------------------------------------------------------------------


def _dependents(resources: list[StackResource], target: StackResource, resource_type: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type == resource_type and target.urn in r.dependencies]


def check_vpc_flow_logs(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for vpc in (r for r in resources if r.resource_type == VPC):
        if not _dependents(resources, vpc, FLOW_LOG):
            yield vpc.urn, f"{vpc.name} has no flow log"


def _buckets(resources: list[StackResource]) -> Iterator[tuple[StackResource, bool]]:
    """Every bucket, and whether it is a log bucket (ALB and S3 log delivery accept only SSE-S3)."""
    for bucket in (r for r in resources if r.resource_type == BUCKET):
        yield bucket, _tags(bucket.props).get("role") == "access-logs"


def check_bucket_encrypted(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, is_log_bucket in _buckets(resources):
        sse = _dependents(resources, bucket, BUCKET_SSE)
        if not sse:
            yield bucket.urn, f"{bucket.name} has no server-side encryption configuration"
        for config in sse:
            for rule in config.props.get("rules") or []:
                algorithm = ((rule or {}).get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
                if algorithm not in {"aws:kms", "aws:kms:dsse"} and not is_log_bucket:
                    yield bucket.urn, f"{bucket.name} uses {algorithm} instead of the stack's KMS key"


def check_bucket_tls_only(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        if not any(
            _denies_insecure_transport(p.props.get("policy")) for p in _dependents(resources, bucket, BUCKET_POLICY)
        ):
            yield bucket.urn, f"{bucket.name} has no policy denying non-TLS requests"


def check_bucket_private(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        blocks = _dependents(resources, bucket, BUCKET_PAB)
        if not blocks:
            yield bucket.urn, f"{bucket.name} has no public access block"
        if str(bucket.props.get("acl") or "private") not in {"private", ""}:
            yield bucket.urn, f"{bucket.name} has the ACL {bucket.props.get('acl')}"


def check_bucket_versioned(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        if not _dependents(resources, bucket, BUCKET_VERSIONING):
            yield bucket.urn, f"{bucket.name} has no versioning configuration"


def check_bucket_logged(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, is_log_bucket in _buckets(resources):
        if not is_log_bucket and not _dependents(resources, bucket, BUCKET_LOGGING):
            yield bucket.urn, f"{bucket.name} writes no server access logs"


def check_rds_tls_enforced(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A database uses a parameter group of this stack that forces TLS (the default group does not say so)."""
    groups = {r.props.get("name"): r for r in resources if r.resource_type == RDS_PARAMS}
    for db in (r for r in resources if r.resource_type == RDS):
        group = groups.get(db.props.get("parameterGroupName"))
        if group is None or list(check_rds_force_ssl(group.props, CheckContext(name=group.name))):
            yield db.urn, f"{db.name} does not use a parameter group that sets rds.force_ssl=1"


def check_default_sg_managed(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for vpc in (r for r in resources if r.resource_type == VPC):
        if not _dependents(resources, vpc, DEFAULT_SG):
            yield (
                vpc.urn,
                f"{vpc.name} leaves its default security group unmanaged (it allows all traffic between members)",
            )


def check_db_security_groups(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A database is exposed if a security group it uses admits the world, whatever the DB's own flags say."""
    by_urn = {r.urn: r for r in resources}
    for db in (r for r in resources if r.resource_type in (RDS, REDIS)):
        for urn in db.dependencies:
            group = by_urn.get(urn)
            if group is None or group.resource_type != SG:
                continue
            rules = [r for r in resources if r.resource_type in (SG_INGRESS, SG_RULE) and group.urn in r.dependencies]
            for rule in [group, *rules]:
                for cidrs, _protocol, _low, _high in _ingress(rule.resource_type, rule.props):
                    if cidrs & WORLD:
                        yield db.urn, f"{db.name} is reachable from the internet through {group.name} ({rule.name})"


STACK_RULES: list[StackRule] = [
    StackRule(name="aws-vpc-flow-logs", family="audit", severity="high",
              description="Every VPC records flow logs.", remediation="Add an aws.ec2.FlowLog for the VPC (checkov CKV2_AWS_11).",
              hipaa=HIPAA["audit"], resource_types=(VPC,), check=check_vpc_flow_logs, nist="NIST 800-53 AU-12"),
    StackRule(name="aws-s3-bucket-encrypted", family="encryption", severity="high",
              description="Every bucket is encrypted with the stack's KMS key (SSE-S3 only for log buckets, which ALB logs require).",
              remediation="Use the Bucket component, which adds the encryption configuration (checkov CKV_AWS_145).",
              hipaa=HIPAA["encryption-at-rest"], resource_types=(BUCKET,), check=check_bucket_encrypted, nist="NIST 800-53 SC-28"),
    StackRule(name="aws-s3-bucket-tls-only", family="tls", severity="high",
              description="Every bucket has a policy that denies requests without TLS.",
              remediation="Use the Bucket component, which adds the TLS-only bucket policy (cdk-nag S3BucketSSLRequestsOnly).",
              hipaa=HIPAA["transmission-encryption"], resource_types=(BUCKET,), check=check_bucket_tls_only, nist="NIST 800-53 SC-8"),
    StackRule(name="aws-s3-bucket-private", family="firewall", severity="critical",
              description="Every bucket has a public access block and no public ACL.",
              remediation="Use the Bucket component, which blocks all public access (checkov CKV2_AWS_6).",
              hipaa=HIPAA["access-control"], resource_types=(BUCKET,), check=check_bucket_private, nist="NIST 800-53 AC-3"),
    StackRule(name="aws-s3-bucket-versioned", family="data-protection", severity="high",
              description="Every bucket keeps object versions.",
              remediation="Use the Bucket component, which enables versioning (checkov CKV_AWS_21).",
              hipaa=HIPAA["integrity"], resource_types=(BUCKET,), check=check_bucket_versioned, nist="NIST 800-53 CP-9"),
    StackRule(name="aws-s3-bucket-logged", family="audit", severity="medium",
              description="Every bucket except the log bucket writes server access logs.",
              remediation="Use the Bucket component with the stack's log bucket (checkov CKV_AWS_18).",
              hipaa=HIPAA["audit"], resource_types=(BUCKET,), check=check_bucket_logged, nist="NIST 800-53 AU-2"),
    StackRule(name="aws-rds-tls-enforced", family="tls", severity="critical",
              description="Every database uses a parameter group of the stack that forces TLS.",
              remediation="Give the instance the ManagedPostgres parameter group (rds.force_ssl=1).",
              hipaa=HIPAA["transmission-encryption"], resource_types=(RDS,), check=check_rds_tls_enforced, nist="NIST 800-53 SC-8"),
    StackRule(name="aws-vpc-default-sg-managed", family="firewall", severity="medium",
              description="Every VPC's default security group is taken over and stripped of rules.",
              remediation="Add an aws.ec2.DefaultSecurityGroup for the VPC with no rules (checkov CKV2_AWS_12).",
              hipaa=HIPAA["access-control"], resource_types=(VPC,), check=check_default_sg_managed, nist="NIST 800-53 SC-7"),
    StackRule(name="aws-db-not-world-reachable", family="firewall", severity="critical",
              description="No database or cache sits behind a security group that admits the internet.",
              remediation="Allow the data port only from the workload security group.",
              hipaa=HIPAA["access-control"], resource_types=(RDS, REDIS), check=check_db_security_groups, nist="NIST 800-53 SC-7"),
]  # fmt: skip
