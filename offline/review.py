"""Evaluate the policy pack's own policy objects on captured resources, as the engine's Analyze does.

Each custom resource's inputs are deserialised the way the analyzer server
does it (secrets unwrapped, unknowns guarded by ``unknown_checking_proxy``)
and passed with its options to every ``ResourceValidationPolicy.validate``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from policy import waivers as pack_waivers
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


def policy_settings(
    environment: str,
    data_classification: str | None,
    stack_waivers: Sequence[Waiver] = (),
    today: datetime.date | None = None,
) -> dict[str, dict[str, Any]]:
    """Rule name -> what the policy-pack config gives that rule besides its level: the stack's environment, its
    data classification, and the waivers of that rule (``make policy-config`` writes the same; ``today`` only
    offline, to review as of a date)."""
    by_rule = pack_waivers.by_rule(w.for_pack() for w in stack_waivers)
    out: dict[str, dict[str, Any]] = {}
    for name in RULE_NAMES:
        entry: dict[str, Any] = {"environment": environment}
        if data_classification:
            entry["dataClassification"] = data_classification
        entry[pack_waivers.CONFIG_KEY] = by_rule.get(name, [])
        if today is not None:
            entry[pack_waivers.REVIEW_DATE_KEY] = today.isoformat()
        out[name] = entry
    return out


def _stack_violations(
    customs: list[Captured],
    policies: Sequence[StackValidationPolicy],
    levels: Mapping[str, str],
    settings: Mapping[str, Mapping[str, Any]],
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
    found: list[Violation] = []
    for policy in policies:
        rule = RULE_NAMES[policy.name]
        args = StackValidationArgs(list(resources.values()), config=dict(settings[policy.name]))
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
    waivers_given = waivers
    """Run ``policies`` (default: the whole pack) over every custom resource.

    Every policy gets what the policy-pack config gives it besides its level (``policy_settings``): the stack's
    ``environment``, when known its ``dataClassification`` (which makes prod-grade data protections apply to PHI
    anywhere), and its waivers, which the policy applies itself as it does under the engine: a finding an active
    waiver covers is not reported (listed here as waived), one whose waiver expired is."""
    settings = policy_settings(environment, data_classification, waivers_given, today)
    policies = ALL_POLICIES if policies is None else policies
    overrides = overrides or {}
    violations: list[Violation] = []
    not_run: list[str] = []
    customs = [r for r in resources if r.custom]
    levels = {p.name: enforcement_for(p.name, enforcement, overrides) for p in policies}
    active = [p for p in policies if levels[p.name] != "disabled" and isinstance(p, ResourceValidationPolicy)]
    stack_active = [p for p in policies if levels[p.name] != "disabled" and isinstance(p, StackValidationPolicy)]
    pack_waivers.WAIVED.clear()
    logging, pack_waivers.LOG_TO_STDERR = (
        pack_waivers.LOG_TO_STDERR,
        False,
    )  # waived findings go into the report instead
    try:
        violations.extend(_stack_violations(customs, stack_active, levels, settings, not_run))
        _resource_violations(customs, active, levels, settings, not_run, violations)
    finally:
        pack_waivers.LOG_TO_STDERR = logging
    by_urn = {r.urn: r for r in customs}
    for waived in pack_waivers.WAIVED:
        rule, target = RULE_NAMES[waived.rule], by_urn.get(waived.urn)
        violations.append(
            Violation(
                rule=rule.name,
                severity=rule.severity,
                enforcement="waived",
                family=rule.family,
                resource_type=target.type if target else "stack",
                resource_name=waived.resource_name or "stack",
                urn=waived.urn,
                message=waived.message,
                remediation=rule.remediation,
                hipaa=rule.hipaa,
                waiver=waived.note,
            )
        )
    pack_waivers.WAIVED.clear()
    today = today or datetime.date.today()
    expired = [w for w in waivers_given if w.expires < today]
    for w in expired:
        not_run.append(f"waiver for {w.rule} on {w.resource} expired on {w.expires}")
    violations.sort(key=lambda v: (SEVERITY_ORDER[v.severity], v.rule, v.resource_name))
    return Review(
        violations,
        len(customs),
        len(active) + len(stack_active),
        not_run,
        [f"{w.rule} on {w.resource} (approved by {w.approved_by}) expired on {w.expires}" for w in expired],
    )


def _resource_violations(
    customs: list[Captured],
    active: Sequence[ResourceValidationPolicy],
    levels: Mapping[str, str],
    settings: Mapping[str, Mapping[str, Any]],
    not_run: list[str],
    violations: list[Violation],
) -> None:
    """Run resource policies on every custom resource's inputs, as the engine's Analyze does."""
    for record in customs:
        props: Any = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(record.raw)))
        for policy in active:
            rule = RULE_NAMES[policy.name]
            if record.type not in rule.resource_types:
                continue
            args = ResourceValidationArgs(
                record.type, props, record.urn, record.name, _options(record), None, config=dict(settings[policy.name])
            )
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
