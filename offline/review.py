"""Evaluate the policy pack's own policy objects on captured resources, as the engine's Analyze does.

Each custom resource's inputs are deserialised the way the analyzer server
does it (secrets unwrapped, unknowns guarded by ``unknown_checking_proxy``)
and passed with its options to every ``ResourceValidationPolicy.validate``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf import json_format
from pulumi.output import Unknown
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from offline.harness import Captured
from policy import ALL_POLICIES, RULE_NAMES
from stacks.config import Waiver

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Violation:
    """One policy finding on one resource."""

    rule: str
    severity: str
    enforcement: str
    family: str
    resource_type: str
    resource_name: str
    urn: str
    message: str
    remediation: str
    hipaa: str
    waiver: str | None = None  # who approved the exception and why, when waived


@dataclass
class Review:
    """The outcome of running every policy over a stack."""

    violations: list[Violation]
    resources_reviewed: int
    rules_evaluated: int
    not_run: list[str]
    expired_waivers: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        """Violations that block the plan and ``pulumi up``."""
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def waived(self) -> list[Violation]:
        """Violations covered by an active waiver."""
        return [v for v in self.violations if v.enforcement == "waived"]

    @property
    def failed(self) -> bool:
        """True when the review blocks: a mandatory violation or an expired waiver."""
        return bool(self.mandatory or self.expired_waivers)

    @property
    def advisory(self) -> list[Violation]:
        """Violations reported as warnings."""
        return [v for v in self.violations if v.enforcement == "advisory"]


def enforcement_for(rule_name: str, default: str | None, overrides: Mapping[str, str]) -> str:
    """The rule's level for this stack: per-rule override, else stack default for mandatory rules."""
    if rule_name in overrides:
        return overrides[rule_name]
    rule_default = RULE_NAMES[rule_name].default_enforcement
    if default is None:
        return rule_default
    if default == "disabled":
        return "disabled"
    # A stack set to advisory downgrades everything; mandatory keeps advisory-by-design rules advisory.
    return "advisory" if default == "advisory" else rule_default


def _options(record: Captured) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=record.ignore_changes,
        delete_before_replace=record.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=record.additional_secret_outputs,
        parent=record.parent or None,
    )


def _engine_unknowns(value: Any) -> Any:
    """Replace the SDK's ``Unknown`` placeholders with the sentinel the engine sends to policies."""
    if isinstance(value, Unknown):
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: _engine_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_unknowns(v) for v in value]
    return value


def _stack_violations(
    customs: list[Captured],
    policies: Sequence[StackValidationPolicy],
    levels: Mapping[str, str],
    settings: Mapping[str, str],
    not_run: list[str],
) -> list[Violation]:
    """Run stack policies over the resources' outputs, wired by parent and dependencies as AnalyzeStack does."""
    by_urn = {r.urn: r for r in customs}
    resources: dict[str, PolicyResource] = {}
    for r in customs:
        # Outputs as AnalyzeStack sees them: secrets unwrapped, values unknown at preview as the engine's sentinel.
        props: Any = unknown_checking_proxy(deserialize_properties(_engine_unknowns(dict(r.outputs or r.inputs))))
        resources[r.urn] = PolicyResource(r.type, props, r.urn, r.name, _options(r), None, None, [], {})
    for r in customs:
        resources[r.urn].dependencies = [resources[d] for d in r.dependencies if d in resources]
    args = StackValidationArgs(list(resources.values()), config=dict(settings))
    found: list[Violation] = []
    for policy in policies:
        rule = RULE_NAMES[policy.name]
        reports: list[tuple[str, str | None]] = []
        try:
            policy.validate(args, lambda message, urn=None, reports=reports: reports.append((message, urn)))  # type: ignore[misc]
        except UnknownValueError:
            not_run.append(f"{policy.name}: a property is unknown until apply")
            continue
        for message, urn in reports:
            target = by_urn.get(urn or "")
            found.append(
                Violation(
                    rule=rule.name,
                    severity=rule.severity,
                    enforcement=levels[policy.name],
                    family=rule.family,
                    resource_type=target.type if target else "stack",
                    resource_name=target.name if target else "stack",
                    urn=urn or "",
                    message=message,
                    remediation=rule.remediation,
                    hipaa=rule.hipaa,
                )
            )
    return found


def review(
    resources: Iterable[Captured],
    *,
    environment: str,
    enforcement: str | None = None,
    overrides: Mapping[str, str] | None = None,
    policies: Sequence[ResourceValidationPolicy | StackValidationPolicy] | None = None,
    waivers: Sequence[Waiver] = (),
    today: datetime.date | None = None,
    data_classification: str | None = None,
) -> Review:
    """Run ``policies`` (default: the whole pack) over every custom resource.

    Every policy gets what the policy-pack config gives it besides its level: the stack's ``environment`` and,
    when known, its ``dataClassification`` (which makes prod-grade data protections apply to PHI anywhere)."""
    settings = {"environment": environment}
    if data_classification:
        settings["dataClassification"] = data_classification
    policies = ALL_POLICIES if policies is None else policies
    overrides = overrides or {}
    violations: list[Violation] = []
    not_run: list[str] = []
    customs = [r for r in resources if r.custom]
    levels = {p.name: enforcement_for(p.name, enforcement, overrides) for p in policies}
    active = [p for p in policies if levels[p.name] != "disabled" and isinstance(p, ResourceValidationPolicy)]
    stack_active = [p for p in policies if levels[p.name] != "disabled" and isinstance(p, StackValidationPolicy)]
    violations.extend(_stack_violations(customs, stack_active, levels, settings, not_run))
    for record in customs:
        props: Any = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(record.raw)))
        args = ResourceValidationArgs(
            record.type, props, record.urn, record.name, _options(record), None, config=dict(settings)
        )
        for policy in active:
            rule = RULE_NAMES[policy.name]
            if record.type not in rule.resource_types:
                continue
            found: list[str] = []
            try:
                policy.validate(args, lambda message, urn=None, found=found: found.append(message))  # type: ignore[misc]
            except UnknownValueError:
                not_run.append(f"{policy.name} on {record.name}: a property is unknown until apply")
                continue
            violations.extend(
                Violation(
                    rule=rule.name,
                    severity=rule.severity,
                    enforcement=levels[policy.name],
                    family=rule.family,
                    resource_type=record.type,
                    resource_name=record.name,
                    urn=record.urn,
                    message=message,
                    remediation=rule.remediation,
                    hipaa=rule.hipaa,
                )
                for message in found
            )
    today = today or datetime.date.today()
    expired = [w for w in waivers if w.expires < today]
    for w in expired:
        not_run.append(f"waiver for {w.rule} on {w.resource} expired on {w.expires}")
    active_waivers = [w for w in waivers if w.expires >= today]
    for index, v in enumerate(violations):
        waiver = next((w for w in active_waivers if w.matches(v.rule, v.resource_name)), None)
        if waiver is not None:
            note = f"waived until {waiver.expires} by {waiver.approved_by}: {waiver.reason}"
            violations[index] = replace(v, enforcement="waived", waiver=note)
    violations.sort(key=lambda v: (SEVERITY_ORDER[v.severity], v.rule, v.resource_name))
    return Review(
        violations,
        len(customs),
        len(active) + len(stack_active),
        not_run,
        [f"{w.rule} on {w.resource} (approved by {w.approved_by}) expired on {w.expires}" for w in expired],
    )
