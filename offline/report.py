"""The compliance review a security officer signs: the model behind every review file.

``build_report(plan)`` turns the offline plan's policy review into controls
(one per rule of the catalogue) grouped by HIPAA safeguard. Each control
lists every resource of its resource types in the stack with a verdict:

- ``pass``: the rule ran and found nothing;
- ``fail``: the rule found a violation (blocking when the rule is mandatory);
- ``waived``: every violation is covered by an active, signed waiver;
- ``not-run``: a property the rule reads is unknown until apply;
- ``disabled``: the stack's policy settings disable the rule.

``to_json`` gives the same data for machines (``report.json``); the
Markdown, SARIF and JUnit renderers read this model only.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from offline.coverage import Coverage, coverage
from offline.harness import ROOT
from offline.plan import Plan, owner_of, system_of
from offline.review import SEVERITY_ORDER, enforcement_for
from offline.state_notes import state_notes
from policy import catalog
from stacks.config import Waiver

Verdict = Literal["pass", "fail", "waived", "not-run", "disabled"]


class RuleInfo(Protocol):
    """What the review reads of a rule; resource rules and stack rules both have it."""

    @property
    def name(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def remediation(self) -> str: ...
    @property
    def hipaa(self) -> str: ...
    @property
    def nist(self) -> str | None: ...
    @property
    def resource_types(self) -> tuple[str, ...]: ...
    @property
    def default_enforcement(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


SEVERITIES = tuple(SEVERITY_ORDER)  # critical, high, medium, low


@dataclass(frozen=True)
class WaiverEntry:
    """A waiver of the stack file, with what it covers in this review."""

    rule: str
    resource: str
    reason: str
    approved_by: str
    expires: datetime.date
    status: Literal["active", "expired"]
    covers: tuple[str, ...]  # resources whose violations it waives (active) or waived before it expired

    @property
    def unused(self) -> bool:
        """True for an active waiver that covers no violation: it can be removed."""
        return self.status == "active" and not self.covers

    def describe(self) -> str:
        """One line: who approved it, until when, and why."""
        state = "expired on" if self.status == "expired" else "until"
        return f"{state} {self.expires} by {self.approved_by}: {self.reason}"


@dataclass(frozen=True)
class Check:
    """One rule on one resource."""

    rule: str
    resource_name: str
    resource_type: str
    urn: str
    verdict: Verdict
    enforcement: str  # the rule's level on this stack: mandatory, advisory or disabled
    severity: str
    messages: tuple[str, ...] = ()
    waiver: WaiverEntry | None = None  # the active waiver, or the expired one that no longer applies
    system: str = "stack"  # the clinical system the resource belongs to ('foundation' for shared parts)
    owner: str = "stack"  # the component the resource was registered under: '<name> (<type>)'

    @property
    def blocking(self) -> bool:
        """True for a failing check of a mandatory rule."""
        return self.verdict == "fail" and self.enforcement == "mandatory"


@dataclass(frozen=True)
class Control:
    """One rule of the catalogue and its checks on this stack."""

    rule: RuleInfo
    enforcement: str
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of the control's checks (pass when it covers no resource)."""
        verdicts = {c.verdict for c in self.checks}
        if self.enforcement == "disabled":
            return "disabled"
        for verdict in ("fail", "not-run", "waived"):
            if verdict in verdicts:
                return verdict
        return "pass"


@dataclass(frozen=True)
class Safeguard:
    """A HIPAA Security Rule safeguard and the controls that implement it."""

    hipaa: str
    controls: tuple[Control, ...]

    @property
    def checks(self) -> list[Check]:
        """Every check of every control of this safeguard."""
        return [c for control in self.controls for c in control.checks]


@dataclass(frozen=True)
class ComplianceReport:
    """Everything the review files say about one stack."""

    stack: str
    environment: str
    default_enforcement: str
    generated_on: datetime.date
    stack_file: str
    stack_file_sha256: str
    resources_reviewed: int
    resource_types: dict[str, int]
    rules_evaluated: int
    safeguards: tuple[Safeguard, ...]
    waivers: tuple[WaiverEntry, ...]
    not_run: tuple[str, ...]
    coverage: Coverage
    budget_problem: str | None
    exit_code: int
    # Per system with state: its single writers and, on VM clouds, what runs beside the state disk and why.
    state: tuple[str, ...] = ()

    @property
    def controls(self) -> list[Control]:
        """Every control, safeguard by safeguard."""
        return [control for s in self.safeguards for control in s.controls]

    @property
    def checks(self) -> list[Check]:
        """Every rule x resource check."""
        return [c for s in self.safeguards for c in s.checks]

    def count(self, verdict: Verdict) -> int:
        """How many checks have ``verdict``."""
        return sum(1 for c in self.checks if c.verdict == verdict)

    @property
    def blocking(self) -> list[Check]:
        """Failing checks of mandatory rules."""
        return [c for c in self.checks if c.blocking]

    @property
    def expired_waivers(self) -> list[WaiverEntry]:
        """Waivers past their date: each one fails the review."""
        return [w for w in self.waivers if w.status == "expired"]

    def violations(self) -> dict[str, dict[str, int]]:
        """severity -> {mandatory, advisory, waived} -> number of violations (one per message)."""
        table = {s: {"mandatory": 0, "advisory": 0, "waived": 0} for s in SEVERITIES}
        for check in self.checks:
            if check.verdict in ("fail", "waived"):
                column = "waived" if check.verdict == "waived" else check.enforcement
                table[check.severity][column] += len(check.messages)
        return table

    def violation_totals(self) -> dict[str, int]:
        """{mandatory, advisory, waived} -> number of violations."""
        totals: Counter[str] = Counter()
        for row in self.violations().values():
            totals.update(row)
        return {k: totals[k] for k in ("mandatory", "advisory", "waived")}

    def blocking_reasons(self) -> list[str]:
        """Why the review fails, one line each (empty when it passes)."""
        reasons = [f"{c.rule} on {c.resource_name}: {m}" for c in self.blocking for m in c.messages]
        reasons += [
            f"waiver for {w.rule} on {w.resource} (approved by {w.approved_by}) expired on {w.expires}"
            for w in self.expired_waivers
        ]
        if self.budget_problem:
            reasons.append(self.budget_problem)
        return reasons

    @property
    def passed(self) -> bool:
        """True when nothing blocks (exit code 0)."""
        return self.exit_code == 0


def _waiver_entries(waivers: list[Waiver], violated: set[tuple[str, str]], today: datetime.date) -> list[WaiverEntry]:
    entries = []
    for w in waivers:
        covers = tuple(sorted(name for rule, name in violated if w.matches(rule, name)))
        status: Literal["active", "expired"] = "expired" if w.expires < today else "active"
        entries.append(WaiverEntry(w.rule, w.resource, w.reason, w.approved_by, w.expires, status, covers))
    return entries


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


def catalogue() -> list[RuleInfo]:
    """Every rule of the pack: resource rules, then stack rules (rules that join several resources)."""
    return [*catalog.RULES, *getattr(catalog, "STACK_RULES", [])]


def build_report(plan: Plan, stack_file: Path | None = None, today: datetime.date | None = None) -> ComplianceReport:
    """The review of ``plan``; ``stack_file`` is the Pulumi.<stack>.yaml it was planned from."""
    today = today or datetime.date.today()
    config = plan.config
    stack_file = stack_file or ROOT / f"Pulumi.{config.stack}.yaml"
    customs = [r for r in plan.run.resources if r.custom]
    found: dict[tuple[str, str], list[str]] = {}
    for v in plan.review.violations:
        found.setdefault((v.rule, v.urn), []).append(v.message)
    waived = {(v.rule, v.urn) for v in plan.review.waived}
    # Notes read "<rule> on <resource>: why" (a resource rule) or "<rule>: why" (a stack rule).
    not_run = {item.split(":", 1)[0] for item in plan.review.not_run}
    violated = {(v.rule, v.resource_name) for v in plan.review.violations}
    waivers = _waiver_entries(list(config.policy.waivers), violated, today)

    def check(rule: RuleInfo, level: str, record_type: str, name: str, urn: str) -> Check:
        messages = tuple(found.pop((rule.name, urn), ()))
        active = next((w for w in waivers if w.status == "active" and w.rule == rule.name and name in w.covers), None)
        expired = next((w for w in waivers if w.status == "expired" and w.rule == rule.name and name in w.covers), None)
        verdict: Verdict
        if level == "disabled":
            verdict = "disabled"
        elif (rule.name, urn) in waived:
            verdict = "waived"
        elif messages:
            verdict = "fail"
        elif f"{rule.name} on {name}" in not_run or rule.name in not_run:
            verdict = "not-run"
        else:
            verdict = "pass"
        waiver = active if verdict == "waived" else expired
        record = everything.get(urn)
        system, owner = (system_of(record, everything), owner_of(record, everything)) if record else ("stack", "stack")
        return Check(rule.name, name, record_type, urn, verdict, level, rule.severity, messages, waiver, system, owner)

    by_safeguard: dict[str, list[Control]] = {}
    by_urn = {r.urn: r for r in customs}
    everything = {r.urn: r for r in plan.run.resources}  # components too: a finding's owner is one
    for rule in catalogue():
        level = enforcement_for(rule.name, config.enforcement, config.policy.overrides)
        records = sorted((r for r in customs if r.type in rule.resource_types), key=lambda r: (r.name, r.type))
        checks = [check(rule, level, r.type, r.name, r.urn) for r in records]
        # A stack rule may report a resource outside its types, or the stack itself (no URN): keep every finding.
        for _, urn in [key for key in found if key[0] == rule.name]:
            record = by_urn.get(urn)
            name, rtype = (record.name, record.type) if record else ("stack", "stack")
            checks.append(check(rule, level, rtype, name, urn))
        by_safeguard.setdefault(rule.hipaa, []).append(Control(rule, level, tuple(checks)))
    enabled = [c.rule for controls in by_safeguard.values() for c in controls if c.enforcement != "disabled"]
    budget_problem = None
    if plan.over_budget:
        budget_problem = (
            f"estimated USD {plan.cost.total:.2f}/month exceeds budgetUsdPerMonth ({config.budget_usd_per_month:.2f})"
        )
    return ComplianceReport(
        stack=config.stack,
        environment=config.environment,
        default_enforcement=config.enforcement,
        generated_on=today,
        stack_file=_display_path(stack_file),
        stack_file_sha256=hashlib.sha256(stack_file.read_bytes()).hexdigest() if stack_file.exists() else "",
        resources_reviewed=plan.review.resources_reviewed,
        resource_types=dict(sorted(Counter(r.type for r in customs).items())),
        rules_evaluated=plan.review.rules_evaluated,
        safeguards=tuple(Safeguard(h, tuple(cs)) for h, cs in sorted(by_safeguard.items(), key=lambda i: _cfr(i[0]))),
        waivers=tuple(waivers),
        # Expired waivers are also notes of the review; the report lists them with the waivers.
        not_run=tuple(n for n in plan.review.not_run if not n.startswith("waiver for ")),
        coverage=coverage((r.type for r in customs), enabled),
        budget_problem=budget_problem,
        exit_code=plan.exit_code,
        state=tuple(state_notes(config)),
    )


def _cfr(reference: str) -> tuple[str, ...]:
    """Sort key of '45 CFR 164.312(a)(2)(iv) Title': section, then paragraphs."""
    citation = reference.split(" ")[2] if reference.startswith("45 CFR ") else reference
    return tuple(citation.replace(")", "").split("("))


def _waiver_json(w: WaiverEntry | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {
        "rule": w.rule,
        "resource": w.resource,
        "reason": w.reason,
        "approvedBy": w.approved_by,
        "expires": w.expires.isoformat(),
        "status": w.status,
        "covers": list(w.covers),
        "unused": w.unused,
    }


def to_json(report: ComplianceReport) -> dict[str, Any]:
    """The report as plain data (``report.json``)."""
    cov = report.coverage
    return {
        "stack": report.stack,
        "environment": report.environment,
        "defaultEnforcement": report.default_enforcement,
        "generatedOn": report.generated_on.isoformat(),
        "stackFile": {"path": report.stack_file, "sha256": report.stack_file_sha256},
        "decision": {
            "exitCode": report.exit_code,
            "passed": report.passed,
            "blockingReasons": report.blocking_reasons(),
        },
        "figures": {
            "resourcesReviewed": report.resources_reviewed,
            "resourceTypes": report.resource_types,
            "rulesEvaluated": report.rules_evaluated,
            "rulesDisabled": sum(1 for c in report.controls if c.enforcement == "disabled"),
            "checks": {v: report.count(v) for v in ("pass", "fail", "waived", "not-run", "disabled")},
            "violations": report.violation_totals(),
            "violationsBySeverity": report.violations(),
            "waivers": {
                "active": sum(1 for w in report.waivers if w.status == "active"),
                "expired": len(report.expired_waivers),
                "unused": sum(1 for w in report.waivers if w.unused),
            },
            "coverage": {
                "share": round(cov.share, 4),
                "completeTypes": cov.complete,
                "classifiedTypes": len(cov.classified),
                "byFamily": {f: {"covered": a, "applicable": b} for f, (a, b) in cov.by_family().items()},
                "types": [
                    {
                        "type": t.resource_type,
                        "kind": t.kind,
                        "applicable": list(t.applicable),
                        "covered": list(t.covered),
                        "missing": list(t.missing),
                    }
                    for t in cov.classified
                ],
                "supporting": cov.supporting,
                "unclassified": cov.unclassified,
            },
        },
        "safeguards": [
            {
                "hipaa": s.hipaa,
                "controls": [
                    {
                        "rule": c.rule.name,
                        "description": c.rule.description,
                        "family": c.rule.family,
                        "severity": c.rule.severity,
                        "enforcement": c.enforcement,
                        "verdict": c.verdict,
                        "remediation": c.rule.remediation,
                        "hipaa": c.rule.hipaa,
                        "nist": c.rule.nist,
                        "resourceTypes": list(c.rule.resource_types),
                        "checks": [
                            {
                                "resource": k.resource_name,
                                "type": k.resource_type,
                                "urn": k.urn,
                                "system": k.system,
                                "owner": k.owner,
                                "verdict": k.verdict,
                                "blocking": k.blocking,
                                "messages": list(k.messages),
                                "waiver": _waiver_json(k.waiver),
                            }
                            for k in c.checks
                        ],
                    }
                    for c in s.controls
                ],
            }
            for s in report.safeguards
        ],
        "waivers": [_waiver_json(w) for w in report.waivers],
        "notRun": list(report.not_run),
    }
