"""Who may reach the stack's public routes, and how often: the source allowlist and per-route request limits.

One neutral description, lowered by every entry point: the Docker host's proxy and the VMs' gateway (nginx
``allow``/``deny`` and ``limit_req``), ingress-nginx annotations, the AWS ALB's security group and WAF
rate-based rules, and GCP Cloud Armor.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.specs import RouteSpec

WORLD = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class RouteLimit:
    """A route's request limit per client address: ``per_minute`` sustained, ``burst`` more at once."""

    fqdn: str
    per_minute: int
    burst: int


def route_limit(route: RouteSpec, domain: str) -> RouteLimit:
    """The limit of ``route`` under ``domain``."""
    return RouteLimit(f"{route.host}.{domain}", route.rate_limit_per_minute, route.burst)


def is_world(cidrs: Iterable[str] | None) -> bool:
    """True when ``cidrs`` (None: not restricted) lets every address in."""
    if cidrs is None:
        return True
    return any(ipaddress.ip_network(c, strict=False).prefixlen == 0 for c in cidrs)


def restricted(cidrs: Sequence[str] | None) -> tuple[str, ...]:
    """The allowlist to enforce: empty when it admits everyone (nothing to lower), else the CIDRs, sorted."""
    if is_world(cidrs):
        return ()
    assert cidrs is not None
    return tuple(sorted(cidrs, key=lambda c: (":" in c, c)))


def v4(cidrs: Iterable[str]) -> list[str]:
    """The IPv4 ranges of ``cidrs``."""
    return [c for c in cidrs if ":" not in c]


def v6(cidrs: Iterable[str]) -> list[str]:
    """The IPv6 ranges of ``cidrs``."""
    return [c for c in cidrs if ":" in c]


def zone_name(key: str) -> str:
    """An identifier for ``key`` (a host name or port) usable as an nginx zone or a WAF metric name."""
    return "rl_" + re.sub(r"[^A-Za-z0-9_]", "_", key)
