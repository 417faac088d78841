"""The clinical platform's compliance policy pack.

``from policy import ALL_POLICIES`` gives the ``pulumi_policy`` policy
objects without starting the analyzer server (only ``policy/__main__.py``
builds the ``PolicyPack``). The offline plan runs these same objects.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import waivers
from policy.catalog import RULE_NAMES, RULES, STACK_RULES
from policy.rule import CheckContext, Rule, RuleInfo, StackResource, StackRule

__all__ = ["ALL_POLICIES", "RULES", "RULE_NAMES", "STACK_RULES", "context_from_args", "policy_for", "stack_policy_for"]


def context_from_args(args: ResourceValidationArgs) -> CheckContext:
    """The check context of a resource as the engine (or the offline plan) describes it."""
    opts = args.opts
    config = args.get_config() or {}
    return CheckContext(
        name=args.name,
        protect=bool(opts.protect) if opts else False,
        additional_secret_outputs=tuple(opts.additional_secret_outputs or ()) if opts else (),
        environment=config.get("environment"),
        resource_type=args.resource_type,
        data_classification=config.get("dataClassification"),
    )


def _metadata(rule: RuleInfo) -> dict[str, Any]:
    """Severity, enforcement, remediation and the HIPAA / NIST references, as the engine shows them."""
    return {
        "enforcement_level": EnforcementLevel(rule.default_enforcement),
        "severity": Severity(rule.severity),
        "framework": PolicyComplianceFramework(
            name="HIPAA Security Rule", reference=rule.hipaa, specification=rule.nist
        ),
        "tags": [rule.family, *rule.tags],
        "remediation_steps": rule.remediation,
    }


def policy_for(rule: Rule) -> ResourceValidationPolicy:
    """Wrap one rule in the policy object the engine runs."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.resource_types:
            return
        config = args.get_config()
        for message in rule.evaluate(args.resource_type, args.props, context_from_args(args)):
            # A signed waiver of this rule for this resource skips the finding until it expires.
            reported = waivers.decide(rule.name, args.name, args.urn, message, config)
            if reported is not None:
                report_violation(reported, args.urn)

    return ResourceValidationPolicy(name=rule.name, description=rule.description, validate=validate, **_metadata(rule))


def stack_policy_for(rule: StackRule) -> StackValidationPolicy:
    """Wrap one stack rule in the policy object the engine runs after the whole stack is known."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                resource_type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=r.props,
                protect=bool(r.opts.protect) if r.opts else False,
                dependencies=tuple(d.urn for d in r.dependencies or []),
            )
            for r in args.resources
        ]
        names = {r.urn: r.name for r in resources}
        config = args.get_config()
        for urn, message in rule.check(resources):
            reported = waivers.decide(rule.name, names.get(urn, ""), urn, message, config)
            if reported is not None:
                report_violation(reported, urn)

    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate, **_metadata(rule))


ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    *(policy_for(rule) for rule in RULES),
    *(stack_policy_for(rule) for rule in STACK_RULES),
]
