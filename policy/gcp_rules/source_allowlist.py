"""A PHI stack's Cloud Armor policy admits only its clinical networks (``allowedSourceCidrs``).

The load balancer is global and public: Cloud Armor is where sources are refused. A policy complies when a
deny rule refuses what is outside listed ranges (``!inIpRange(origin.ip, ...)``), or when its default
rule denies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import labels_of
from policy.gcp_rules.tokens import SECURITY_POLICIES
from policy.rule import HIPAA, CheckContext, Rule

DEFAULT_RULE_PRIORITY = 2147483647


def _restricts_sources(props: Mapping[str, Any]) -> bool:
    for rule in props.get("rules") or []:
        action = str((rule or {}).get("action") or "")
        if not action.startswith("deny"):
            continue
        if int(rule.get("priority") or 0) == DEFAULT_RULE_PRIORITY:
            return True
        expression = str((((rule.get("match") or {}).get("expr")) or {}).get("expression") or "")
        if expression.startswith("!inIpRange(origin.ip"):
            return True
    return False


def check_armor_allowlist(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """A PHI stack's security policy that lets every source through."""
    phi = "phi" in (labels_of(props).get("data-classification"), ctx.data_classification)
    if phi and not _restricts_sources(props):
        yield (
            f"{ctx.name} lets every client address reach a PHI stack's routes; set allowedSourceCidrs to the "
            "clinical networks, or record a signed waiver"
        )


LB_PHI_NOT_WORLD = Rule(
    name="gcp-lb-phi-not-world",
    family="firewall",
    severity="high",
    description="On a stack classified PHI, Cloud Armor in front of the load balancer refuses every source "
    "outside allowedSourceCidrs.",
    remediation="Set clinical-platform:allowedSourceCidrs to the hospital's clinical networks (at most five "
    "ranges: one Cloud Armor expression); a route meant for the internet needs a signed waiver.",
    hipaa=HIPAA["access-control"],
    resource_types=SECURITY_POLICIES,
    check=check_armor_allowlist,
    nist="NIST 800-53 AC-3, SC-7(5)",
)
