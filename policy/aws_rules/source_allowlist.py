"""A PHI stack's load balancer admits its clinical networks (``allowedSourceCidrs``), not the internet.

``aws-sg-no-world-ingress`` already keeps the world off everything but a load balancer's 80/443; on a stack
classified PHI this rule takes the load balancer's world opening away too, unless a security officer signs a
waiver (e.g. a patient-facing portal behind other controls).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.aws_rules.common import holds_phi
from policy.aws_rules.network import WORLD, _ingress
from policy.aws_rules.tokens import SG, SG_INGRESS, SG_RULE
from policy.rule import HIPAA, CheckContext, Rule


def check_phi_not_world(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """Any ingress from 0.0.0.0/0 or ::/0 on a PHI stack (only a load balancer's group may have one at all)."""
    if not holds_phi(props, ctx):
        return
    try:
        openings = list(_ingress(ctx.resource_type, props))
    except UnknownValueError:
        return  # a CIDR computed by another resource: judged at `up`
    for cidrs, protocol, low, high in openings:
        world = sorted(cidrs & WORLD)
        if world:
            where = f"port {low}" if low == high else f"ports {low}-{high}"
            yield (
                f"{ctx.name} admits {world} on {where}/{protocol} on a PHI stack; set allowedSourceCidrs to the "
                "clinical networks, or record a signed waiver"
            )


LB_PHI_NOT_WORLD = Rule(
    name="aws-lb-phi-not-world",
    family="firewall",
    severity="high",
    description="On a stack classified PHI, the internet-facing load balancer admits only allowedSourceCidrs, "
    "never 0.0.0.0/0 or ::/0.",
    remediation="Set clinical-platform:allowedSourceCidrs to the hospital's clinical networks (the CogStack guide "
    "restricts access to them); a route meant for the internet needs a signed waiver.",
    hipaa=HIPAA["access-control"],
    resource_types=(SG_INGRESS, SG_RULE, SG),
    check=check_phi_not_world,
    nist="NIST 800-53 AC-3, SC-7(5)",
)
