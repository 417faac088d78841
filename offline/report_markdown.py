"""``report.md`` (the document a security officer reads and signs) and ``summary.md`` (a pull-request comment).

Both render a ``ComplianceReport`` only. The report puts first the figures a
reviewer asks for, then what blocks, the waivers, every control by HIPAA
safeguard with a verdict per resource, the coverage, and a sign-off block.
"""

from __future__ import annotations

from offline.coverage import FAMILIES_BY_KIND
from offline.report import SEVERITIES, Check, ComplianceReport, Control

MAX_SUMMARY_ITEMS = 6  # blocking findings and waivers listed in summary.md before "and N more"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _verdict(check: Check) -> str:
    if check.verdict == "fail":
        return f"**FAIL** ({check.enforcement})"
    return check.verdict.upper().replace("-", " ")


def _figures(report: ComplianceReport) -> list[str]:
    totals = report.violation_totals()
    cov = report.coverage
    active = [w for w in report.waivers if w.status == "active"]
    covered = sorted({name for w in active for name in w.covers})
    disabled = sum(1 for c in report.controls if c.enforcement == "disabled")
    return [
        "| Figure | Value |",
        "|---|---|",
        f"| Resources reviewed | {report.resources_reviewed} ({len(report.resource_types)} types) |",
        f"| Rules evaluated | {report.rules_evaluated} of {len(report.controls)} ({disabled} disabled; "
        f"{sum(1 for c in report.controls if c.checks)} with resources of their types here) |",
        f"| Checks (rule x resource) | {len(report.checks)}: {report.count('pass')} pass, {report.count('fail')} fail, "
        f"{report.count('waived')} waived, {report.count('not-run')} not run, {report.count('disabled')} disabled |",
        f"| Violations | {totals['mandatory']} mandatory, {totals['advisory']} advisory, {totals['waived']} waived |",
        f"| Waivers | {len(active)} active (covering {len(covered)} resources), {len(report.expired_waivers)} expired, "
        f"{sum(1 for w in report.waivers if w.unused)} unused |",
        f"| Coverage | {cov.complete} of {len(cov.classified)} resource types have a rule in every family that "
        f"applies ({cov.share:.0%}) |",
    ]


def _severity_table(report: ComplianceReport) -> list[str]:
    table = report.violations()
    out = ["| Severity | Mandatory | Advisory | Waived |", "|---|---:|---:|---:|"]
    out += [f"| {s} | {table[s]['mandatory']} | {table[s]['advisory']} | {table[s]['waived']} |" for s in SEVERITIES]
    return out


def _waivers(report: ComplianceReport) -> list[str]:
    if not report.waivers:
        return ["No waivers."]
    out = [
        "| Rule | Resource pattern | Covers | Approved by | Expires | Status | Reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in report.waivers:
        status = "**EXPIRED: fails the review**" if w.status == "expired" else "unused" if w.unused else "active"
        covers = ", ".join(w.covers) or "nothing"
        covers = f"no longer covers {covers}" if w.status == "expired" else covers
        out.append(
            f"| {w.rule} | `{_cell(w.resource)}` | {_cell(covers)} | {w.approved_by} | {w.expires} | {status} "
            f"| {_cell(w.reason)} |"
        )
    if report.expired_waivers:
        out += [
            "",
            f"**{len(report.expired_waivers)} expired waiver(s).** An expired waiver no longer covers anything and "
            "fails the review: fix the resource, or renew the waiver with a new date and a fresh approval.",
        ]
    return out


def _control(control: Control) -> list[str]:
    rule = control.rule
    verdict = "DISABLED" if control.enforcement == "disabled" else control.verdict.upper().replace("-", " ")
    out = [
        f"#### `{rule.name}`: {_cell(rule.description)}",
        "",
        f"Severity **{rule.severity}** · enforcement **{control.enforcement}** · family {rule.family} · "
        f"{rule.nist or 'no NIST reference'} · verdict **{verdict}**  ",
        f"Remediation: {_cell(rule.remediation)}",
        "",
    ]
    out += ["| Resource | Type | System | Owner | Verdict | Finding, waiver |", "|---|---|---|---|---|---|"]
    for check in control.checks:
        notes = list(check.messages)
        if check.waiver is not None:
            notes.append(("Waived " if check.verdict == "waived" else "Waiver ") + check.waiver.describe())
        out.append(
            f"| {check.resource_name} | `{check.resource_type}` | {check.system} | {_cell(check.owner)} | "
            f"{_verdict(check)} | {_cell('; '.join(notes))} |"
        )
    return [*out, ""]


def _coverage(report: ComplianceReport) -> list[str]:
    cov = report.coverage
    out = [
        "A family *applies* to a resource type when the type can carry the risk the family controls; a type is "
        "*covered* when at least one enabled rule of each family that applies to it checks that type. Kinds and "
        "the families that apply to them:",
        "",
    ]
    out += [f"- {kind}: {', '.join(families)}" for kind, families in FAMILIES_BY_KIND.items()]
    out += ["", "| Family | Types with a rule | Types it applies to |", "|---|---:|---:|"]
    out += [f"| {family} | {covered} | {applies} |" for family, (covered, applies) in cov.by_family().items()]
    out += ["", "| Resource type | Kind | Covered | Missing |", "|---|---|---|---|"]
    for t in cov.classified:
        out.append(
            f"| `{t.resource_type}` | {t.kind} | {', '.join(t.covered) or '-'} | {', '.join(t.missing) or '-'} |"
        )
    if cov.supporting:
        out += ["", f"Not counted, settings of another resource and judged with it: {_types(cov.supporting)}."]
    if cov.unclassified:
        out += [
            "",
            f"Not counted, **unclassified** (give them a profile in offline/providers/): {_types(cov.unclassified)}.",
        ]
    return out


def _types(tokens: list[str]) -> str:
    return ", ".join(f"`{t}`" for t in tokens)


def render_report(report: ComplianceReport) -> str:
    """The full review (``report.md``)."""
    result = "PASS: nothing blocks" if report.passed else f"FAIL: {len(report.blocking_reasons())} blocking finding(s)"
    out = [
        f"# HIPAA compliance review: stack `{report.stack}`",
        "",
        f"- Environment: {report.environment}; default policy enforcement: {report.default_enforcement}",
        f"- Stack file: `{report.stack_file}` (sha256 `{report.stack_file_sha256[:16]}`)",
        f"- Generated on {report.generated_on} by `make review STACK={report.stack}` (offline plan, no cloud access)",
        f"- Result: **{result}** (exit code {report.exit_code})",
        "",
        "## Figures",
        "",
        *_figures(report),
        "",
        "Violations by severity and enforcement:",
        "",
        *_severity_table(report),
        "",
        "## Blocking findings",
        "",
    ]
    reasons = report.blocking_reasons()
    out += [f"{i}. {_cell(r)}" for i, r in enumerate(reasons, 1)] if reasons else ["None."]
    out += ["", "## Waivers", "", *_waivers(report), "", "## Controls by HIPAA safeguard", ""]
    for safeguard in report.safeguards:
        checks = safeguard.checks
        fails = sum(1 for c in checks if c.verdict == "fail")
        out += [
            f"### {safeguard.hipaa}",
            "",
            f"{len(safeguard.controls)} control(s), {len(checks)} check(s), {fails} failing.",
            "",
        ]
        for control in safeguard.controls:
            if control.checks:
                out += _control(control)
        idle = [f"`{c.rule.name}`" for c in safeguard.controls if not c.checks]
        if idle:
            out += [f"No resources of their types in this stack: {', '.join(idle)}.", ""]
    if report.state:
        out += ["## State and single writers", "", *[f"- {_cell(n)}" for n in report.state], ""]
    out += ["## Coverage", "", *_coverage(report), ""]
    if report.not_run:
        out += ["## Rules not run", "", *[f"- {_cell(n)}" for n in report.not_run], ""]
    out += [
        "## Sign-off",
        "",
        "| | |",
        "|---|---|",
        "| Reviewer (name, role) | |",
        "| Date | |",
        "| Decision | [ ] Approved  [ ] Approved with conditions  [ ] Rejected |",
        "| Conditions, follow-ups | |",
        "| Signature | |",
        "",
        f"The decision covers the stack file with sha256 `{report.stack_file_sha256}` as reviewed on "
        f"{report.generated_on}.",
        "",
    ]
    return "\n".join(out)


def render_summary(report: ComplianceReport) -> str:
    """A short summary for a pull-request comment (``summary.md``), under 25 lines and free of links."""
    totals = report.violation_totals()
    table = report.violations()
    by_severity = ", ".join(f"{s} {sum(table[s].values())}" for s in SEVERITIES)
    cov = report.coverage
    verdict = "PASS" if report.passed else "FAIL"
    out = [
        f"### HIPAA compliance review of `{report.stack}`: {verdict}",
        "",
        f"{report.resources_reviewed} resources, {report.rules_evaluated} rules, {len(report.checks)} checks: "
        f"{report.count('pass')} pass, {report.count('fail')} fail, {report.count('waived')} waived, "
        f"{report.count('not-run')} not run, {report.count('disabled')} disabled.",
        f"Violations: {totals['mandatory']} mandatory, {totals['advisory']} advisory, {totals['waived']} waived "
        f"({by_severity}).",
        f"Coverage: {cov.complete} of {len(cov.classified)} resource types have a rule in every family that applies.",
        "",
    ]
    reasons = report.blocking_reasons()
    out.append(f"**Blocking ({len(reasons)})**" + (":" if reasons else ": none."))
    out += [f"- {r}" for r in reasons[:MAX_SUMMARY_ITEMS]]
    if len(reasons) > MAX_SUMMARY_ITEMS:
        out.append(f"- and {len(reasons) - MAX_SUMMARY_ITEMS} more (see report.md)")
    active = [w for w in report.waivers if w.status == "active"]
    out += ["", f"**Waivers**: {len(active)} active, {len(report.expired_waivers)} expired."]
    listed = sorted(report.waivers, key=lambda w: (w.status != "expired", w.expires))
    for w in listed[:MAX_SUMMARY_ITEMS]:
        state = "EXPIRED" if w.status == "expired" else "until"
        out.append(f"- {w.rule} on `{w.resource}` {state} {w.expires} ({w.approved_by})")
    if len(listed) > MAX_SUMMARY_ITEMS:
        out.append(f"- and {len(listed) - MAX_SUMMARY_ITEMS} more (see report.md)")
    return "\n".join(out) + "\n"
