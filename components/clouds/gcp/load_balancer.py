"""``LoadBalancer``: the public HTTPS entry of a ``gcp`` stack (global external Application Load Balancer + Cloud Armor)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.edge import RouteLimit

# Cloud Armor's preconfigured OWASP Core Rule Set 4.22 rules (Google recommends 4.22 over 3.3 now).
# Sensitivity 1 enables only the high-confidence signatures: clinical forms and JSON carry text that
# the paranoid levels misread as attacks; raise it per rule once the logs show no false positives.
WAF_RULES = (
    "sqli-v422-stable",
    "xss-v422-stable",
    "lfi-v422-stable",
    "rfi-v422-stable",
    "rce-v422-stable",
    "scannerdetection-v422-stable",
    "protocolattack-v422-stable",
    "sessionfixation-v422-stable",
    "cve-canary",  # Log4Shell and other high-profile CVEs (Java stacks behind the guides' images)
)
WAF_SENSITIVITY = 1
WAF_FIRST_PRIORITY = 1000
# After every WAF rule: a throttle's "allow" for conforming requests ends evaluation, so it must come last.
RATE_LIMIT_PRIORITY = 9000
# Before every other rule: a source outside allowedSourceCidrs is refused before anything else looks at it.
ALLOWLIST_PRIORITY = 500
# Per-route throttles, after the WAF rules and before the stack-wide one (lower numbers are evaluated first).
ROUTE_RATE_FIRST_PRIORITY = 8000
DEFAULT_RULE_PRIORITY = 2147483647
# Backend protocols that keep TLS on the hop from Google's proxies to the VMs.
BACKEND_PROTOCOLS = ("HTTPS", "HTTP2")
BACKEND_TIMEOUT_S = 600  # model inference can take minutes, as on the AWS ALB
MAX_CERTIFICATES_PER_PROXY = 15
HSTS = "Strict-Transport-Security: max-age=31536000; includeSubDomains"


@dataclass(frozen=True)
class _Route:
    name: str
    fqdn: str
    backend: gcp.compute.BackendService


def _rfc1035(value: str, limit: int = 63) -> str:
    """A Compute Engine name: lower-case letters, digits and hyphens, starting with a letter."""
    slug = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-") or "x"
    if not slug[0].isalpha():
        slug = f"r-{slug}"
    return slug[:limit].rstrip("-")


def _throttle(per_minute: int) -> gcp.compute.SecurityPolicyRuleRateLimitOptionsArgs:
    return gcp.compute.SecurityPolicyRuleRateLimitOptionsArgs(
        conform_action="allow",
        exceed_action="deny(429)",
        enforce_on_key="IP",
        rate_limit_threshold=gcp.compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
            count=per_minute, interval_sec=60
        ),
    )


def allowlist_rules(allowed: Sequence[str]) -> list[gcp.compute.SecurityPolicyRuleArgs]:
    """With an allowlist: one rule first of all, refusing (403) a client outside every allowed range. A deny of
    what is *not* listed, because a throttle's or the default's "allow" ends evaluation and an allow of the
    listed ranges would skip the WAF rules. One expression holds at most five ranges (StackConfig checks)."""
    if not allowed:
        return []
    outside = " && ".join(f"!inIpRange(origin.ip, '{cidr}')" for cidr in allowed)
    return [
        gcp.compute.SecurityPolicyRuleArgs(
            priority=ALLOWLIST_PRIORITY,
            action="deny(403)",
            description="Only allowedSourceCidrs: " + ", ".join(allowed),
            match=gcp.compute.SecurityPolicyRuleMatchArgs(
                expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(expression=outside)
            ),
        )
    ]


def route_throttles(limits: Sequence[RouteLimit]) -> list[gcp.compute.SecurityPolicyRuleArgs]:
    """A throttle per route host: a client IP above the route's ``per_minute + burst`` in a minute gets 429 (the
    burst the on-VM gateway allows within a minute is added: Cloud Armor counts per interval, with no burst)."""
    return [
        gcp.compute.SecurityPolicyRuleArgs(
            priority=ROUTE_RATE_FIRST_PRIORITY + index,
            action="throttle",
            description=f"{limit.fqdn}: at most {limit.per_minute} a minute (+{limit.burst} burst) per client IP",
            match=gcp.compute.SecurityPolicyRuleMatchArgs(
                expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(
                    expression=f"request.headers['host'] == '{limit.fqdn}'"
                )
            ),
            rate_limit_options=_throttle(limit.per_minute + limit.burst),
        )
        for index, limit in enumerate(sorted(limits, key=lambda r: r.fqdn))
    ]


class LoadBalancer(pulumi.ComponentResource):
    """A global external Application Load Balancer that speaks only TLS 1.2+ and routes by host.

    Secure defaults: one global IPv4 address; an SSL policy with profile
    RESTRICTED and minimum TLS 1.2; Google-managed certificates (one per
    route host, so adding a route never re-issues the others; or
    ``certificate_domains``, or an existing certificate's self link); TLS
    early data (0-RTT, replayable) off; HTTP only answers with a 301 to
    HTTPS; unknown hosts get a 404 from the load balancer itself and never
    reach a backend; backends speak HTTPS to the VMs (no plain-HTTP hop),
    log every request and add HSTS; Cloud Armor (``armor``) with the OWASP
    CRS rules (SQL injection, XSS, LFI, RFI, RCE, scanners, protocol attacks,
    session fixation) denying with 403, a per-client-IP throttle answering
    429 above ``rate_limit_per_minute`` (a throttle rather than a ban: a
    hospital's staff share a few NAT addresses, a ban would lock out a
    ward), adaptive protection against layer-7 DDoS, JSON bodies parsed for
    inspection, normal (not verbose) logging; a throttle per route host
    (``route_limits``) before the stack-wide one; with ``allowed_source_cidrs``
    a first rule refusing (403) every client outside them. ``deletion_protection`` makes
    Pulumi refuse to delete the address and forwarding rules (Google has no
    deletion protection for them), so DNS never loses its target by mistake.

    Call ``route`` once per public host, then ``finish`` once.
    """

    ip_address: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        domain: str,
        labels: Mapping[str, str],
        certificate_domains: Sequence[str] | None = None,
        certificate_self_link: str | None = None,
        armor: bool = True,
        rate_limit_per_minute: int = 600,
        route_limits: Sequence[RouteLimit] = (),
        allowed_source_cidrs: Sequence[str] = (),
        deletion_protection: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:LoadBalancer", name, None, opts)
        if certificate_domains is not None and certificate_self_link is not None:
            raise ValueError("give certificate_domains or certificate_self_link, not both")
        if rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1")
        child = pulumi.ResourceOptions(parent=self)
        self.name, self.project, self.domain, self.labels = name, project, domain, dict(labels)
        self.certificate_domains = list(certificate_domains) if certificate_domains is not None else None
        self.certificate_self_link = certificate_self_link
        self.deletion_policy = "PREVENT" if deletion_protection else "DELETE"
        self.address = gcp.compute.GlobalAddress(
            f"{name}-ip",
            project=project,
            address_type="EXTERNAL",
            ip_version="IPV4",
            labels=self.labels,
            deletion_policy=self.deletion_policy,
            description=f"Public address of {domain}",
            opts=child,
        )
        self.ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-tls",
            project=project,
            profile="RESTRICTED",
            min_tls_version="TLS_1_2",
            description="TLS 1.2+ with AEAD ciphers only",
            opts=child,
        )
        self.security_policy = (
            self._armor(name, rate_limit_per_minute, route_limits, allowed_source_cidrs) if armor else None
        )
        self._http_redirect(name)
        self._routes: list[_Route] = []
        self._finished = False
        self.ip_address = self.address.address
        self.register_outputs({"ipAddress": self.address.address})

    def _armor(
        self, name: str, per_minute: int, route_limits: Sequence[RouteLimit], allowed: Sequence[str]
    ) -> gcp.compute.SecurityPolicy:
        rules = [*allowlist_rules(allowed), *route_throttles(route_limits)]
        rules += [
            gcp.compute.SecurityPolicyRuleArgs(
                priority=WAF_FIRST_PRIORITY + index,
                action="deny(403)",
                description=f"OWASP CRS {rule.split('-v')[0]}",
                match=gcp.compute.SecurityPolicyRuleMatchArgs(
                    expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(
                        expression=f"evaluatePreconfiguredWaf('{rule}', {{'sensitivity': {WAF_SENSITIVITY}}})"
                    )
                ),
            )
            for index, rule in enumerate(WAF_RULES)
        ]
        every_ip = gcp.compute.SecurityPolicyRuleMatchArgs(
            versioned_expr="SRC_IPS_V1", config=gcp.compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"])
        )
        rules.append(
            gcp.compute.SecurityPolicyRuleArgs(
                priority=RATE_LIMIT_PRIORITY,
                action="throttle",
                description=f"At most {per_minute} requests a minute per client IP",
                match=every_ip,
                rate_limit_options=_throttle(per_minute),
            )
        )
        rules.append(
            gcp.compute.SecurityPolicyRuleArgs(
                priority=DEFAULT_RULE_PRIORITY, action="allow", description="Default: allow", match=every_ip
            )
        )
        return gcp.compute.SecurityPolicy(
            f"{name}-armor",
            project=self.project,
            type="CLOUD_ARMOR",
            description="OWASP rules, per-IP throttle, adaptive protection",
            rules=rules,
            adaptive_protection_config=gcp.compute.SecurityPolicyAdaptiveProtectionConfigArgs(
                layer7_ddos_defense_config=gcp.compute.SecurityPolicyAdaptiveProtectionConfigLayer7DdosDefenseConfigArgs(
                    enable=True, rule_visibility="STANDARD"
                )
            ),
            advanced_options_config=gcp.compute.SecurityPolicyAdvancedOptionsConfigArgs(
                json_parsing="STANDARD", log_level="NORMAL"
            ),
            labels=self.labels,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _http_redirect(self, name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        redirect = gcp.compute.URLMap(
            f"{name}-http-redirect",
            project=self.project,
            description="Plain HTTP only redirects to HTTPS",
            default_url_redirect=gcp.compute.URLMapDefaultUrlRedirectArgs(
                https_redirect=True, redirect_response_code="MOVED_PERMANENTLY_DEFAULT", strip_query=False
            ),
            opts=child,
        )
        proxy = gcp.compute.TargetHttpProxy(f"{name}-http", project=self.project, url_map=redirect.id, opts=child)
        gcp.compute.GlobalForwardingRule(
            f"{name}-http",
            project=self.project,
            ip_address=self.address.id,
            ip_protocol="TCP",
            port_range="80",
            load_balancing_scheme="EXTERNAL_MANAGED",
            target=proxy.id,
            labels=self.labels,
            deletion_policy=self.deletion_policy,
            opts=child,
        )

    def _fqdn(self, host: str) -> str:
        host = host.lower().rstrip(".")
        return host if host == self.domain or host.endswith(f".{self.domain}") else f"{host}.{self.domain}"

    def route(
        self,
        name: str,
        host: str,
        instance_groups: Sequence[pulumi.Input[str]],
        port_name: str,
        port: int,
        health_path: str,
        protocol: str = "HTTPS",
    ) -> None:
        """Send requests for ``host`` (a label under the domain, or a full name in it) to ``instance_groups``.

        The backend reaches the VMs on the named port ``port_name`` (= ``port``)
        over TLS and counts a VM healthy while ``health_path`` answers 2xx over HTTPS.
        """
        if self._finished:
            raise RuntimeError(f"{self.name}: route '{name}' added after finish()")
        if protocol not in BACKEND_PROTOCOLS:
            raise ValueError(f"route '{name}': backend protocol {protocol} is not encrypted; use HTTPS or HTTP2")
        fqdn = self._fqdn(host)
        if any(r.fqdn == fqdn for r in self._routes):
            raise ValueError(f"route '{name}': host {fqdn} is already routed")
        child = pulumi.ResourceOptions(parent=self)
        health = gcp.compute.HealthCheck(
            f"{name}-lb-hc",
            project=self.project,
            https_health_check=gcp.compute.HealthCheckHttpsHealthCheckArgs(
                port=port, request_path=health_path, port_specification="USE_FIXED_PORT"
            ),
            check_interval_sec=10,
            timeout_sec=5,
            healthy_threshold=2,
            unhealthy_threshold=3,
            log_config=gcp.compute.HealthCheckLogConfigArgs(enable=True),
            description=f"{fqdn}: HTTPS {health_path} on port {port}",
            opts=child,
        )
        backend = gcp.compute.BackendService(
            f"{name}-backend",
            project=self.project,
            protocol=protocol,
            load_balancing_scheme="EXTERNAL_MANAGED",
            port_name=port_name,
            timeout_sec=BACKEND_TIMEOUT_S,
            connection_draining_timeout_sec=30,
            health_checks=health.id,
            backends=[
                gcp.compute.BackendServiceBackendArgs(
                    group=group, balancing_mode="UTILIZATION", max_utilization=0.8, capacity_scaler=1.0
                )
                for group in instance_groups
            ],
            security_policy=self.security_policy.id if self.security_policy is not None else None,
            log_config=gcp.compute.BackendServiceLogConfigArgs(enable=True, sample_rate=1.0),
            custom_response_headers=[HSTS],
            description=f"{fqdn} over TLS to the VMs",
            opts=child,
        )
        self._routes.append(_Route(name, fqdn, backend))

    def _certificates(self) -> list[pulumi.Input[str]]:
        if self.certificate_self_link is not None:
            return [self.certificate_self_link]
        child = pulumi.ResourceOptions(parent=self)
        hosts = [r.fqdn for r in self._routes]
        if self.certificate_domains is not None:
            uncovered = sorted(set(hosts) - {d.lower().rstrip(".") for d in self.certificate_domains})
            if uncovered:
                raise ValueError(f"certificate_domains do not cover {', '.join(uncovered)}")
            cert = gcp.compute.ManagedSslCertificate(
                f"{self.name}-cert",
                project=self.project,
                type="MANAGED",
                managed=gcp.compute.ManagedSslCertificateManagedArgs(domains=list(self.certificate_domains)),
                opts=child,
            )
            return [cert.id]
        if len(hosts) > MAX_CERTIFICATES_PER_PROXY:
            raise ValueError(
                f"{len(hosts)} hosts need {len(hosts)} certificates, more than a proxy takes "
                f"({MAX_CERTIFICATES_PER_PROXY}); pass certificate_domains or certificate_self_link"
            )
        return [
            gcp.compute.ManagedSslCertificate(
                f"{r.name}-cert",
                project=self.project,
                type="MANAGED",
                managed=gcp.compute.ManagedSslCertificateManagedArgs(domains=[r.fqdn]),
                opts=child,
            ).id
            for r in self._routes
        ]

    def finish(self) -> None:
        """The URL map of every route (unknown hosts: 404), the HTTPS proxy and the port 443 forwarding rule."""
        if self._finished:
            raise RuntimeError(f"{self.name}: finish() called twice")
        if not self._routes:
            raise ValueError(f"{self.name}: no routes; a load balancer without backends serves nothing")
        self._finished = True
        child = pulumi.ResourceOptions(parent=self)
        matchers = [_rfc1035(r.name) for r in self._routes]
        if len(set(matchers)) != len(matchers):
            raise ValueError(f"route names {[r.name for r in self._routes]} collide as URL map path matchers")
        # The URL map must name a default service, but a 100 % abort answers before any backend is
        # contacted: requests for hosts no route claims (scanners probing the bare IP) get a 404.
        url_map = gcp.compute.URLMap(
            f"{self.name}-https",
            project=self.project,
            description="Host-based routing; unknown hosts get 404",
            default_service=self._routes[0].backend.id,
            default_route_action=gcp.compute.URLMapDefaultRouteActionArgs(
                fault_injection_policy=gcp.compute.URLMapDefaultRouteActionFaultInjectionPolicyArgs(
                    abort=gcp.compute.URLMapDefaultRouteActionFaultInjectionPolicyAbortArgs(
                        http_status=404, percentage=100.0
                    )
                )
            ),
            host_rules=[
                gcp.compute.URLMapHostRuleArgs(hosts=[r.fqdn], path_matcher=matcher)
                for r, matcher in zip(self._routes, matchers, strict=True)
            ],
            path_matchers=[
                gcp.compute.URLMapPathMatcherArgs(name=matcher, default_service=r.backend.id)
                for r, matcher in zip(self._routes, matchers, strict=True)
            ],
            opts=child,
        )
        proxy = gcp.compute.TargetHttpsProxy(
            f"{self.name}-https",
            project=self.project,
            url_map=url_map.id,
            ssl_certificates=self._certificates(),
            ssl_policy=self.ssl_policy.id,
            tls_early_data="DISABLED",
            opts=child,
        )
        gcp.compute.GlobalForwardingRule(
            f"{self.name}-https",
            project=self.project,
            ip_address=self.address.id,
            ip_protocol="TCP",
            port_range="443",
            load_balancing_scheme="EXTERNAL_MANAGED",
            target=proxy.id,
            labels=self.labels,
            deletion_policy=self.deletion_policy,
            opts=child,
        )
