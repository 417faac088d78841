"""The edge: load balancers, their listeners, the WAF in front of them and their ACM certificates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import is_prod, known, known_strings, present, refers_to, truthy
from policy.aws_rules.tokens import (
    ACM_CERT,
    LISTENERS,
    LOAD_BALANCERS,
    LOG_GROUP,
    TARGET_GROUPS,
    WAF,
    WAF_ASSOCIATION,
    WAF_LOGGING,
)
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

# Headers that carry credentials; a WAF log must not keep them (WAF logs the full request headers).
WAF_REDACTED_HEADERS = ("authorization", "cookie")
WAF_LOG_PREFIX = "aws-waf-logs-"

TLS12_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2",
    "ELBSecurityPolicy-TLS13-1-3",
    "ELBSecurityPolicy-TLS-1-2",
    "ELBSecurityPolicy-FS-1-2",
)


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


def check_target_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    # Lambda and ALB-type targets have no protocol of their own; everything else names how the hop is spoken.
    if str(props.get("targetType") or "instance") in {"lambda", "alb"}:
        return
    protocol = str(props.get("protocol") or "HTTP").upper()
    if protocol in {"HTTP", "TCP", "UDP", "TCP_UDP"}:
        yield f"{ctx.name} forwards to its targets over {protocol}: the hop inside the VPC is unencrypted"
    check = props.get("healthCheck") or {}
    if protocol in {"HTTPS", "TLS"} and str(check.get("protocol") or protocol).upper() in {"HTTP", "TCP"}:
        yield f"{ctx.name} health-checks its targets over {check.get('protocol')}: the targets must serve plain HTTP"


def check_alb_headers(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("loadBalancerType", "application") == "application" and not truthy(
        props.get("dropInvalidHeaderFields")
    ):
        yield f"{ctx.name} forwards invalid HTTP header fields (request smuggling); set dropInvalidHeaderFields"
    # Unset is AWS's default, defensive; monitor lets ambiguous (desync) requests through.
    mode = str(props.get("desyncMitigationMode") or "defensive")
    if props.get("loadBalancerType", "application") == "application" and mode not in {"defensive", "strictest"}:
        yield f"{ctx.name} lets HTTP desync (request smuggling) requests through (desyncMitigationMode {mode})"


def check_listener_acm(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if str(props.get("protocol") or "").upper() not in {"HTTPS", "TLS"}:
        return
    arn = str(props.get("certificateArn") or "")
    if arn.split(":")[2:3] != ["acm"]:
        yield (
            f"{ctx.name} serves a certificate that is not ACM's ({arn or 'none'}): its key was handled outside AWS "
            "and nothing renews it"
        )


def check_alb_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if is_prod(props, ctx) and not truthy(props.get("enableDeletionProtection")):
        yield f"{ctx.name} has no deletion protection in prod"


def check_alb_access_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    logs = props.get("accessLogs") or {}
    if not (truthy(logs.get("enabled")) and logs.get("bucket")):
        yield f"{ctx.name} does not write access logs"


def check_waf(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    groups = set()
    for rule in props.get("rules") or []:
        statement = ((rule or {}).get("statement") or {}).get("managedRuleGroupStatement") or {}
        groups.add(statement.get("name"))
    missing = {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} - groups
    if missing:
        yield f"{ctx.name} lacks the managed rule groups {sorted(missing)}"
    if not truthy((props.get("visibilityConfig") or {}).get("cloudwatchMetricsEnabled")):
        yield f"{ctx.name} records no metrics"


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


ALB_LISTENER_TLS12 = Rule(
    name="aws-alb-listener-tls12",
    family="tls",
    severity="critical",
    description="HTTPS listeners allow TLS 1.2+ only; HTTP listeners only redirect to HTTPS.",
    remediation="Use ssl_policy ELBSecurityPolicy-TLS13-1-2-2021-06 and make port 80 a redirect to HTTPS (checkov CKV_AWS_103, CKV_AWS_2).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=LISTENERS,
    check=check_listener_tls,
    nist="NIST 800-53 SC-8",
)
ALB_TARGET_TLS = Rule(
    name="aws-alb-target-tls",
    family="tls",
    severity="high",
    description="Load balancers speak TLS to their targets too: no request with PHI or credentials crosses the VPC in clear.",
    remediation="Set the target group's protocol and health check protocol to HTTPS and terminate TLS on the target "
    "(the on-VM gateway does, with a boot-time certificate) (checkov CKV_AWS_378).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=TARGET_GROUPS,
    check=check_target_tls,
    nist="NIST 800-53 SC-8",
)
ALB_DROP_INVALID_HEADERS = Rule(
    name="aws-alb-drop-invalid-headers",
    family="firewall",
    severity="medium",
    description="Load balancers drop invalid HTTP header fields and mitigate HTTP desync (defensive or strictest).",
    remediation="Set drop_invalid_header_fields = true and desync_mitigation_mode defensive or strictest "
    "(checkov CKV_AWS_131, CKV_AWS_328).",
    hipaa=HIPAA["integrity"],
    resource_types=LOAD_BALANCERS,
    check=check_alb_headers,
    nist="NIST 800-53 SC-7",
)
LISTENER_ACM_CERTIFICATE = Rule(
    name="aws-listener-acm-certificate",
    family="tls",
    severity="medium",
    description="HTTPS and TLS listeners serve a certificate from ACM.",
    remediation="Issue the certificate in ACM (DNS-validated; `aws-acm-certificate` judges it) and pass its ARN as "
    "certificate_arn, not an IAM server certificate (cdk-nag HIPAA.Security-ELBv2ACMCertificateRequired).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=LISTENERS,
    check=check_listener_acm,
    nist="NIST 800-53 SC-17",
)
ALB_DELETION_PROTECTION_PROD = Rule(
    name="aws-alb-deletion-protection-prod",
    family="data-protection",
    severity="medium",
    description="In prod, load balancers are deletion-protected.",
    remediation="Set enable_deletion_protection = true (checkov CKV_AWS_150).",
    hipaa=HIPAA["contingency"],
    resource_types=LOAD_BALANCERS,
    check=check_alb_prod,
    nist="NIST 800-53 CP-10",
)
ALB_ACCESS_LOGS = Rule(
    name="aws-alb-access-logs",
    family="audit",
    severity="medium",
    description="Load balancers write access logs.",
    remediation="Set access_logs {bucket, enabled = true} (checkov CKV_AWS_91).",
    hipaa=HIPAA["audit"],
    resource_types=LOAD_BALANCERS,
    check=check_alb_access_logs,
    nist="NIST 800-53 AU-2",
)
WAF_MANAGED_RULES = Rule(
    name="aws-waf-managed-rules",
    family="firewall",
    severity="medium",
    description="The WAF applies the AWS common and known-bad-inputs rule groups and records metrics.",
    remediation="Add the managed rule groups AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet.",
    hipaa=HIPAA["malicious-software"],
    resource_types=(WAF,),
    check=check_waf,
    nist="NIST 800-53 SI-3",
)
ACM_CERTIFICATE = Rule(
    name="aws-acm-certificate",
    family="tls",
    severity="medium",
    description="ACM certificates are DNS-validated, strong and logged for transparency.",
    remediation="Use validation_method DNS, an RSA 2048+/EC key and keep certificate transparency logging on.",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(ACM_CERT,),
    check=check_acm_certificate,
    nist="NIST 800-53 SC-17",
)


# --- stack-level rules ----------------------------------------------------------------------


def internet_facing(lb: StackResource) -> bool:
    """An application load balancer that is not internal (an unknown ``internal`` counts as facing the internet)."""
    kind = known(lb.props, "loadBalancerType") or "application"
    return kind == "application" and not truthy(known(lb.props, "internal"))


def check_alb_waf(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Each internet-facing ALB has a web ACL association of this stack whose resourceArn is the ALB."""
    associations = [r for r in resources if r.resource_type == WAF_ASSOCIATION]
    for lb in (r for r in resources if r.resource_type in LOAD_BALANCERS and internet_facing(r)):
        if not any(refers_to(a, "resourceArn", lb) for a in associations):
            yield lb.urn, f"{lb.name} faces the internet with no WAF web ACL associated"


def check_waf_logging(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Each web ACL logs to an encrypted, retained ``aws-waf-logs-`` log group of the stack, credentials redacted."""
    configs = [r for r in resources if r.resource_type == WAF_LOGGING]
    groups = [r for r in resources if r.resource_type == LOG_GROUP]
    for acl in (r for r in resources if r.resource_type == WAF):
        mine = [c for c in configs if refers_to(c, "resourceArn", acl)]
        if not mine:
            yield (
                acl.urn,
                f"{acl.name} has no logging configuration: the requests it blocks or lets through leave no trace",
            )
            continue
        for config in mine:
            yield from _waf_log_destinations(acl, config, groups)
            redacted = set()
            for field in known(config.props, "redactedFields") or []:
                header = (field or {}).get("singleHeader") or {}
                redacted.add(str(header.get("name") or "").lower())
            missing = [h for h in WAF_REDACTED_HEADERS if h not in redacted]
            if missing:
                yield (
                    acl.urn,
                    f"{acl.name} logs the {', '.join(missing)} header(s) in clear; add them to redactedFields",
                )


def _waf_log_destinations(
    acl: StackResource, config: StackResource, groups: list[StackResource]
) -> Iterator[tuple[str, str]]:
    destinations = known_strings(config.props, "logDestinationConfigs")
    targets = [g for g in groups if refers_to(config, "logDestinationConfigs", g)]
    if not targets:
        where = ", ".join(destinations) if destinations else "a destination unknown at preview"
        yield acl.urn, f"{acl.name} logs to {where}, not to a log group of this stack whose encryption can be checked"
    for group in targets:
        name = known(group.props, "name")
        if name is not None and not str(name).startswith(WAF_LOG_PREFIX):
            yield acl.urn, f"{acl.name} logs to {name}; WAF only delivers to groups named {WAF_LOG_PREFIX}*"
        if not present(group.props, "kmsKeyId"):
            yield acl.urn, f"{acl.name} logs to {group.name}, which is not encrypted with a customer-managed key"
        if not present(group.props, "retentionInDays"):
            yield acl.urn, f"{acl.name} logs to {group.name}, which keeps them forever (no retention)"


ALB_WAF = StackRule(
    name="aws-alb-waf",
    family="firewall",
    severity="high",
    description="Every internet-facing application load balancer has a WAF web ACL associated in the same stack.",
    remediation="Keep aws.waf true (the platform associates a WAFv2 web ACL with the AWS managed rule groups); "
    "elsewhere add an aws.wafv2.WebAclAssociation whose resource_arn is the load balancer's ARN (checkov CKV2_AWS_28).",
    hipaa=HIPAA["malicious-software"],
    resource_types=LOAD_BALANCERS,
    check=check_alb_waf,
    nist="NIST 800-53 SC-7",
)
WAF_LOGGING_ENABLED = StackRule(
    name="aws-waf-logging",
    family="audit",
    severity="medium",
    description="Every WAF web ACL logs to a KMS-encrypted, retained aws-waf-logs- log group of the stack, with the "
    "authorization and cookie headers redacted.",
    remediation="Add an aws.wafv2.WebAclLoggingConfiguration for the web ACL to a log group named aws-waf-logs-* with "
    "kms_key_id and retention_in_days, and redacted_fields single_header authorization and cookie "
    "(checkov CKV2_AWS_31, cdk-nag HIPAA.Security-WAFv2LoggingEnabled).",
    hipaa=HIPAA["audit"],
    resource_types=(WAF,),
    check=check_waf_logging,
    nist="NIST 800-53 AU-2",
)
