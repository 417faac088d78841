"""The edge: load balancers, their listeners, the WAF in front of them and their ACM certificates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import is_prod, truthy
from policy.aws_rules.tokens import ACM_CERT, LISTENERS, LOAD_BALANCERS, TARGET_GROUPS, WAF
from policy.rule import HIPAA, CheckContext, Rule

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
    description="Load balancers drop invalid HTTP header fields.",
    remediation="Set drop_invalid_header_fields = true (checkov CKV_AWS_131).",
    hipaa=HIPAA["integrity"],
    resource_types=LOAD_BALANCERS,
    check=check_alb_headers,
    nist="NIST 800-53 SC-7",
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
