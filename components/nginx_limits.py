"""nginx lowering of ``components/edge.py``: per-route ``limit_req`` (429 beyond it) and ``allow``/``deny``.

Shared by the Docker host's TLS proxy (clients connect straight to it) and the VMs' gateway (behind the
cloud's load balancer: the client address comes from ``X-Forwarded-For``, trusted only from the load
balancer's own ranges, so a client cannot pick the address it is limited or admitted by).
"""

from __future__ import annotations

from collections.abc import Sequence

from components.edge import RouteLimit

# A 10 MB zone holds about 160 000 client addresses (nginx: one megabyte keeps about 16 000 64-byte states).
ZONE_MB = 10
STATUS = 429


def zones(limits: Sequence[tuple[str, RouteLimit]]) -> str:
    """``limit_req_zone`` lines (http context), one per (zone name, limit), keyed on the client's address."""
    return "".join(
        f"    limit_req_zone $binary_remote_addr zone={zone}:{ZONE_MB}m rate={limit.per_minute}r/m;\n"
        for zone, limit in limits
    ) + (f"    limit_req_status {STATUS};\n" if limits else "")


def apply(zone: str, limit: RouteLimit, indent: str = "        ") -> str:
    """The ``limit_req`` line of a location: ``burst`` requests above the rate served at once, then 429."""
    return f"{indent}limit_req zone={zone} burst={limit.burst} nodelay;\n"


def access(cidrs: Sequence[str], indent: str = "        ") -> str:
    """``allow`` each CIDR then ``deny all`` (403); nothing when ``cidrs`` is empty (no allowlist)."""
    if not cidrs:
        return ""
    return "".join(f"{indent}allow {c};\n" for c in cidrs) + f"{indent}deny all;\n"


def real_ip(trusted: Sequence[str]) -> str:
    """Take the client's address from ``X-Forwarded-For`` when the request comes from ``trusted`` (the load
    balancer's ranges) only; recursive, so the right-most address not in ``trusted`` is the client."""
    if not trusted:
        return ""
    lines = "".join(f"    set_real_ip_from {c};\n" for c in trusted)
    return lines + "    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n"
