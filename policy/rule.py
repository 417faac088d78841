"""What a compliance rule is: metadata a security officer reads, and a check.

A ``Rule`` is provider-agnostic data plus a ``check`` that returns one
message per violation. ``policy.ALL_POLICIES`` wraps each rule in a
``pulumi_policy`` policy object, so the Pulumi engine and the offline plan
run exactly the same checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Family = Literal["tls", "encryption", "firewall", "data-protection", "hardening", "secrets", "audit", "governance"]
Severity = Literal["low", "medium", "high", "critical"]

# A resource check: (props, context) -> violation messages. Context carries the resource's
# options (protect, additional_secret_outputs), its name and the stack's environment.
ResourceCheck = Callable[[Mapping[str, Any], "CheckContext"], Iterable[str]]

# HIPAA Security Rule technical and administrative safeguards cited by the rules.
HIPAA = {
    "access-control": "45 CFR 164.312(a)(1) Access control",
    "unique-user": "45 CFR 164.312(a)(2)(i) Unique user identification",
    "encryption-at-rest": "45 CFR 164.312(a)(2)(iv) Encryption and decryption",
    "audit": "45 CFR 164.312(b) Audit controls",
    "integrity": "45 CFR 164.312(c)(1) Integrity",
    "authentication": "45 CFR 164.312(d) Person or entity authentication",
    "transmission": "45 CFR 164.312(e)(1) Transmission security",
    "transmission-encryption": "45 CFR 164.312(e)(2)(ii) Encryption (transmission)",
    "contingency": "45 CFR 164.308(a)(7)(ii)(A) Data backup plan",
    "malicious-software": "45 CFR 164.308(a)(5)(ii)(B) Protection from malicious software",
    "password-management": "45 CFR 164.308(a)(5)(ii)(D) Password management",
    "risk-management": "45 CFR 164.308(a)(1)(ii)(B) Risk management",
}


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the resource's properties."""

    name: str
    protect: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    environment: str | None = None
    resource_type: str = ""
    # The stack's data classification (phi, pii, internal, public), from the policy-pack config.
    data_classification: str | None = None


@dataclass(frozen=True, kw_only=True)
class RuleInfo:
    """What a security officer reads about a rule: name, family, severity, fix and references."""

    name: str
    family: Family
    severity: Severity
    description: str
    remediation: str
    hipaa: str
    resource_types: tuple[str, ...]  # the resources it judges, for coverage and reports
    nist: str | None = None
    default_enforcement: Literal["advisory", "mandatory"] = "mandatory"
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class Rule(RuleInfo):
    """A rule that judges one resource at a time."""

    check: ResourceCheck

    def evaluate(self, resource_type: str, props: Mapping[str, Any], ctx: CheckContext) -> list[str]:
        """Violation messages of this rule for one resource (empty when it complies or does not apply)."""
        if resource_type not in self.resource_types:
            return []
        if ctx.resource_type != resource_type:
            ctx = replace(ctx, resource_type=resource_type)
        return list(self.check(props, ctx))


@dataclass(frozen=True)
class StackResource:
    """One resource as a stack rule sees it: type, name, properties (outputs), options and dependencies."""

    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool
    dependencies: tuple[str, ...]  # URNs


# A stack check: every resource of the stack -> (resource URN, message) per violation.
StackCheck = Callable[[list[StackResource]], Iterable[tuple[str, str]]]


@dataclass(frozen=True, kw_only=True)
class StackRule(RuleInfo):
    """A rule that needs more than one resource to decide (a bucket and its encryption configuration)."""

    check: StackCheck
