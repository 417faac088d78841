"""The edge: the HTTPS load balancer's SSL policies, target proxies, URL maps, backend services and Cloud Armor.

GCP's defaults are weak here: a proxy without an SSL policy negotiates the
COMPATIBLE profile down to TLS 1.0, a backend service speaks plain HTTP to
its backends, and a backend without a security policy has no WAF.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import number, truthy
from policy.gcp_rules.tokens import (
    BACKEND_SERVICES,
    HTTP_PROXIES,
    REGION_BACKEND_SERVICE,
    REGION_SECURITY_POLICY,
    SECURITY_POLICIES,
    SECURITY_POLICY,
    SSL_POLICIES,
    TLS_PROXIES,
    URL_MAPS,
)
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

SECURITY_POLICY_RULES = (
    "gcp:compute/securityPolicyRule:SecurityPolicyRule",
    "gcp:compute/regionSecurityPolicyRule:RegionSecurityPolicyRule",
)
TLS12 = {"TLS_1_2", "TLS_1_3"}
STRONG_PROFILES = {"MODERN", "RESTRICTED", "FIPS_202205"}
PLAIN_BACKEND_PROTOCOLS = {"HTTP", "H2C"}
EXTERNAL_SCHEMES = {"EXTERNAL", "EXTERNAL_MANAGED"}
# The preconfigured WAF rule sets every policy applies: OWASP SQL injection and XSS, and Log4Shell (CVE-2021-44228).
REQUIRED_WAF_SETS = ("sqli", "xss", "cve-canary")
RATE_ACTIONS = {"throttle", "rate_based_ban"}
_PRECONFIGURED = re.compile(r"evaluatePreconfigured(?:Waf|Expr)\(\s*['\"](cve-canary|[a-z]+)")


def _weak_feature(feature: str) -> bool:
    """RSA key exchange (no forward secrecy), CBC mode or 3DES."""
    return feature.startswith("TLS_RSA_") or "_CBC_" in feature or "3DES" in feature


def check_ssl_policy(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    minimum = str(props.get("minTlsVersion") or "TLS_1_0").upper()
    if minimum not in TLS12:
        yield f"{ctx.name} allows {minimum} (minTlsVersion); require TLS_1_2"
    profile = str(props.get("profile") or "COMPATIBLE").upper()
    if profile == "CUSTOM":
        weak = sorted(f for f in (str(x) for x in props.get("customFeatures") or []) if _weak_feature(f))
        if weak:
            yield f"{ctx.name} enables weak cipher suites {weak}"
    elif profile not in STRONG_PROFILES:
        yield f"{ctx.name} uses the {profile} profile, which keeps weak cipher suites for old clients"


def check_proxy_ssl_policy(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("sslPolicy"):
        yield f"{ctx.name} has no SSL policy, so GCP's default applies (COMPATIBLE profile, TLS 1.0 and up)"


def _scheme(props: Mapping[str, Any], ctx: CheckContext) -> str:
    """The load balancing scheme, or the provider's default: EXTERNAL_MANAGED (global), INTERNAL (regional)."""
    regional = ctx.resource_type == REGION_BACKEND_SERVICE
    return str(props.get("loadBalancingScheme") or ("INTERNAL" if regional else "EXTERNAL_MANAGED")).upper()


def check_backend_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _scheme(props, ctx) == "INTERNAL":
        return  # a passthrough load balancer: the client's own TLS reaches the backend
    protocol = str(props.get("protocol") or "HTTP").upper()
    if protocol in PLAIN_BACKEND_PROTOCOLS:
        yield f"{ctx.name} sends plain {protocol} from the load balancer to its backends; use HTTPS (or HTTP2)"


def check_backend_logging(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if _scheme(props, ctx) == "INTERNAL_SELF_MANAGED":
        return  # Traffic Director: no load balancer request log to turn on
    log = props.get("logConfig") or {}
    if not truthy(log.get("enable")):
        yield f"{ctx.name} does not log requests (logConfig.enable is off)"
    elif number(log.get("sampleRate"), 1.0) <= 0:
        yield f"{ctx.name} logs no requests (logConfig.sampleRate is 0)"


def check_backend_armor(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    scheme = _scheme(props, ctx)
    if scheme in EXTERNAL_SCHEMES and not props.get("securityPolicy"):
        yield f"{ctx.name} faces the internet ({scheme}) without a Cloud Armor security policy"


SSL_POLICY_TLS12 = Rule(
    name="gcp-ssl-policy-tls12",
    family="tls",
    severity="critical",
    description="SSL policies require TLS 1.2+ with the MODERN, RESTRICTED or FIPS profile (or CUSTOM without weak suites).",
    remediation="Set min_tls_version = TLS_1_2 and profile = MODERN or RESTRICTED (checkov CKV_GCP_4).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=SSL_POLICIES,
    check=check_ssl_policy,
    nist="NIST 800-53 SC-8",
)
PROXY_SSL_POLICY = Rule(
    name="gcp-https-proxy-ssl-policy",
    family="tls",
    severity="critical",
    description="HTTPS and SSL target proxies use an SSL policy of their own instead of GCP's TLS 1.0 default.",
    remediation="Set ssl_policy to the stack's SSL policy (profile MODERN or RESTRICTED, min TLS 1.2) (no checkov equivalent).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=TLS_PROXIES,
    check=check_proxy_ssl_policy,
    nist="NIST 800-53 SC-8",
)
BACKEND_TLS = Rule(
    name="gcp-backend-tls",
    family="tls",
    severity="high",
    description="Load balancer backend services speak TLS to the VMs (no plain HTTP hop inside the VPC).",
    remediation="Set protocol = HTTPS (or HTTP2) and serve TLS on the VMs' service port (no checkov equivalent).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=BACKEND_SERVICES,
    check=check_backend_tls,
    nist="NIST 800-53 SC-8",
)
BACKEND_LOGGING = Rule(
    name="gcp-backend-logging",
    family="audit",
    severity="medium",
    description="Backend services log every request.",
    remediation="Set log_config {enable = true, sample_rate = 1.0} (no checkov equivalent).",
    hipaa=HIPAA["audit"],
    resource_types=BACKEND_SERVICES,
    check=check_backend_logging,
    nist="NIST 800-53 AU-2",
)
BACKEND_CLOUD_ARMOR = Rule(
    name="gcp-backend-cloud-armor",
    family="firewall",
    severity="high",
    description="Backend services behind an external load balancer are protected by a Cloud Armor security policy.",
    remediation="Set security_policy to the stack's Cloud Armor policy (no checkov equivalent; CKV_GCP_73 judges the policy itself).",
    hipaa=HIPAA["malicious-software"],
    resource_types=BACKEND_SERVICES,
    check=check_backend_armor,
    nist="NIST 800-53 SC-7",
)


# --- stack-level rules ----------------------------------------------------------------------


def _enforcing(rule: Mapping[str, Any]) -> bool:
    """A rule that acts: not in preview and not an allow."""
    return not truthy(rule.get("preview")) and str(rule.get("action") or "").lower() != "allow"


def _expression(rule: Mapping[str, Any]) -> str:
    return str((((rule.get("match") or {}).get("expr")) or {}).get("expression") or "")


def check_cloud_armor_waf(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A policy's rules, inline or as separate rule resources, apply the WAF sets and a rate limit."""
    for policy in (r for r in resources if r.resource_type in SECURITY_POLICIES):
        if str(policy.props.get("type") or "CLOUD_ARMOR") != "CLOUD_ARMOR":
            continue  # edge and network policies cannot evaluate WAF expressions
        rules = [r for r in policy.props.get("rules") or [] if r]
        rules += [
            r.props for r in resources if r.resource_type in SECURITY_POLICY_RULES and policy.urn in r.dependencies
        ]
        acting = [r for r in rules if _enforcing(r)]
        sets = {m.group(1) for r in acting for m in _PRECONFIGURED.finditer(_expression(r))}
        missing = [s for s in REQUIRED_WAF_SETS if s not in sets]
        if missing:
            yield policy.urn, f"{policy.name} does not enforce the preconfigured WAF rules {missing}"
        if not any(str(r.get("action") or "").lower() in RATE_ACTIONS for r in acting):
            yield policy.urn, f"{policy.name} has no rate-based rule (throttle or rate_based_ban)"


def check_http_proxy_redirects(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A plain-HTTP proxy only serves a URL map of the stack that redirects everything to HTTPS."""
    by_urn = {r.urn: r for r in resources}
    for proxy in (r for r in resources if r.resource_type in HTTP_PROXIES):
        maps = [by_urn[d] for d in proxy.dependencies if d in by_urn and by_urn[d].resource_type in URL_MAPS]
        if not maps:
            yield (
                proxy.urn,
                f"{proxy.name} serves plain HTTP through a URL map the stack cannot show redirects to HTTPS",
            )
        for url_map in maps:
            redirect = url_map.props.get("defaultUrlRedirect") or {}
            if not truthy(redirect.get("httpsRedirect")) or url_map.props.get("pathMatchers"):
                yield (
                    proxy.urn,
                    f"{proxy.name} serves plain HTTP: {url_map.name} does not redirect every request to HTTPS",
                )


CLOUD_ARMOR_WAF = StackRule(
    name="gcp-cloud-armor-waf",
    family="firewall",
    severity="medium",
    description="Cloud Armor policies enforce the preconfigured SQLi, XSS and Log4Shell rules and a rate-based rule.",
    remediation="Add deny rules on evaluatePreconfiguredWaf('sqli-v33-stable'), ('xss-v33-stable') and ('cve-canary'), not in preview, and a throttle or rate_based_ban rule (checkov CKV_GCP_73).",
    hipaa=HIPAA["malicious-software"],
    resource_types=(SECURITY_POLICY, REGION_SECURITY_POLICY),
    check=check_cloud_armor_waf,
    nist="NIST 800-53 SI-3",
)
HTTP_PROXY_REDIRECTS = StackRule(
    name="gcp-http-proxy-redirects",
    family="tls",
    severity="high",
    description="Plain-HTTP target proxies only redirect to HTTPS.",
    remediation="Give the HTTP proxy its own URL map with default_url_redirect {https_redirect = true} and nothing else (checkov CKV2_GCP_37/38 judge the forwarding rule).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=HTTP_PROXIES,
    check=check_http_proxy_redirects,
    nist="NIST 800-53 SC-8",
)
