"""The pull-request comment: every stack's plan, review and cost, compared with the base branch.

``python -m offline.ci_comment --plans DIR [--base DIR] [--previews DIR] --out comment.md``
reads the plan JSON of each stack (``DIR/<stack>.json``, as ``make plan ARGS=--json``
prints it), the base branch's plan JSON when given, and the text of ``pulumi
preview`` per stack when CI had cloud credentials, and writes one Markdown
comment. CI posts it once per pull request and edits it in place on every push:
the first line is a hidden marker that identifies it.

Standard library only: CI renders the comment with a bare Python, no venv.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- clinical-platform-ci -->"
# GitHub refuses comments over 65,536 characters; keep room for the marker and the truncation note.
MAX_COMMENT_CHARS = 60_000
MAX_PREVIEW_CHARS = 20_000
MAX_LISTED_VIOLATIONS = 25
SEVERITIES = ("critical", "high", "medium", "low")
LEVELS = ("mandatory", "advisory", "waived")

Plan = dict[str, Any]


def load_plans(folder: Path) -> dict[str, Plan | None]:
    """Plan JSON per stack from ``folder/<stack>.json``; None when the plan printed nothing usable.

    ``make plan`` prints no JSON when the stack file or its config is invalid
    (exit 2) or the platform failed (exit 3); that stack is still listed.
    """
    plans: dict[str, Plan | None] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text() or "null")
        except json.JSONDecodeError:
            data = None
        plans[path.stem] = data if isinstance(data, dict) else None
    return plans


def load_previews(folder: Path | None) -> dict[str, str]:
    """``pulumi preview`` output per stack from ``folder/<stack>.txt`` (none when the folder is absent)."""
    if folder is None or not folder.is_dir():
        return {}
    return {path.stem: path.read_text(errors="replace") for path in sorted(folder.glob("*.txt"))}


@dataclass(frozen=True)
class CostChange:
    """A stack's estimated monthly cost against the base branch."""

    usd: float
    base_usd: float | None  # None: the base branch has no plan for this stack
    by_type: dict[str, tuple[float, float]]  # type -> (head, base) USD per month

    @property
    def delta(self) -> float | None:
        """Head minus base in USD per month, or None for a stack new in this branch."""
        return None if self.base_usd is None else round(self.usd - self.base_usd, 2)


def cost_change(head: Plan, base: Plan | None) -> CostChange:
    """Compare the cost of one stack's plan with the base branch's plan of the same stack."""
    head_types: dict[str, float] = head["cost"]["byType"]
    base_types: dict[str, float] = base["cost"]["byType"] if base else {}
    by_type = {
        t: (round(head_types.get(t, 0.0), 2), round(base_types.get(t, 0.0), 2))
        for t in sorted(set(head_types) | set(base_types))
    }
    return CostChange(
        round(float(head["cost"]["usdPerMonth"]), 2),
        round(float(base["cost"]["usdPerMonth"]), 2) if base else None,
        by_type,
    )


def resource_changes(head: Plan, base: Plan | None) -> dict[str, tuple[int, int]]:
    """Resource count per type: (head, base); base counts are 0 for a stack new in this branch."""
    head_types: dict[str, int] = head["resources"]["byType"]
    base_types: dict[str, int] = base["resources"]["byType"] if base else {}
    return {t: (head_types.get(t, 0), base_types.get(t, 0)) for t in sorted(set(head_types) | set(base_types))}


def severity_counts(plan: Plan) -> dict[str, dict[str, int]]:
    """Violations per severity and enforcement level (mandatory, advisory, waived)."""
    counts = {s: dict.fromkeys(LEVELS, 0) for s in SEVERITIES}
    for v in plan["policy"]["violations"]:
        counts.setdefault(v["severity"], dict.fromkeys(LEVELS, 0))
        if v["enforcement"] in LEVELS:
            counts[v["severity"]][v["enforcement"]] += 1
    return counts


def failure_lines(name: str, plan: Plan | None) -> list[str]:
    """Why a stack's plan fails, one clear line per reason (empty when it passes)."""
    if plan is None:
        return [f"{name}: no plan; the stack file or its config is invalid, or the platform failed (see the log)"]
    lines = []
    policy, cost = plan["policy"], plan["cost"]
    if policy["mandatory"]:
        lines.append(f"{name}: {policy['mandatory']} mandatory policy violation(s)")
    lines += [f"{name}: expired waiver: {item}" for item in policy["expiredWaivers"]]
    if cost["overBudget"]:
        lines.append(
            f"{name}: estimated USD {cost['usdPerMonth']:,.2f}/month exceeds clinical-platform:budgetUsdPerMonth "
            f"({cost['budgetUsdPerMonth']:,.2f}); choose smaller sizes or GPUs, or raise the budget"
        )
    if not lines and plan["exitCode"]:
        lines.append(f"{name}: the plan exited {plan['exitCode']}")
    return lines


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _signed(value: float | None, new: str = "new stack") -> str:
    if value is None:
        return new
    return f"{value:+,.2f}"


def _count_change(head: int, base: int) -> str:
    return f"{head - base:+d}"


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in ``text``, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _summary_row(name: str, plan: Plan | None, base: Plan | None, has_base: bool) -> str:
    if plan is None:
        return f"| `{name}` | | | | | | | ❌ no plan (invalid stack file or config; see the job log) |"
    policy, res = plan["policy"], plan["resources"]
    change = cost_change(plan, base)
    resources = f"{res['total']}"
    if has_base and base is not None:
        resources += f" ({_count_change(res['total'], base['resources']['total'])})"
    budget = plan["cost"]["budgetUsdPerMonth"]
    failures = failure_lines(name, plan)
    result = "✅ pass" if not failures else "❌ " + "; ".join(f.split(": ", 1)[1] for f in failures)
    delta = _signed(change.delta) if has_base else "no base"
    return (
        f"| `{name}` | {plan['cloud']}/{plan['runtime']} | {resources} | "
        f"{policy['mandatory']} / {policy['advisory']} / {policy['waived']} | {_usd(change.usd)} | {delta} | "
        f"{_usd(budget) if budget is not None else '—'} | {_cell(result)} |"
    )


def _stack_details(name: str, plan: Plan, base: Plan | None, has_base: bool) -> list[str]:
    policy = plan["policy"]
    change = cost_change(plan, base)
    compare = has_base and base is not None
    out = [
        f"<details><summary><b>{name}</b> ({plan['environment']}): {plan['resources']['total']} resources, "
        f"{policy['mandatory']} mandatory, {policy['advisory']} advisory, {policy['waived']} waived, "
        f"USD {_usd(change.usd)}/month</summary>",
        "",
    ]
    if has_base and base is None:
        out += ["New stack in this branch: the base branch has no plan for it.", ""]
    out += ["**Resources by type**", ""]
    out += ["| Type | Count | Change |", "|---|--:|--:|"] if compare else ["| Type | Count |", "|---|--:|"]
    for rtype, (count, before) in resource_changes(plan, base if compare else None).items():
        out.append(
            f"| `{rtype}` | {count} | {_count_change(count, before)} |" if compare else f"| `{rtype}` | {count} |"
        )
    out += [
        "",
        f"**Policy violations by severity** (stack default: {policy['enforcement']})",
        "",
        "| Severity | Mandatory | Advisory | Waived |",
        "|---|--:|--:|--:|",
    ]
    out += [f"| {s} | {c['mandatory']} | {c['advisory']} | {c['waived']} |" for s, c in severity_counts(plan).items()]
    active = [v for v in policy["violations"] if v["enforcement"] != "waived"]
    if active:
        out += ["", "| Level | Severity | Rule | Resource | System | Finding |", "|---|---|---|---|---|---|"]
        out += [
            f"| {v['enforcement']} | {v['severity']} | `{v['rule']}` | `{_cell(v['resource_name'])}` | "
            f"{_cell(v.get('system', 'stack'))} | "
            f"{_cell(v['message'])} |"
            for v in active[:MAX_LISTED_VIOLATIONS]
        ]
        if len(active) > MAX_LISTED_VIOLATIONS:
            out += ["", f"{len(active) - MAX_LISTED_VIOLATIONS} more in the review report (report.md, SARIF)."]
    waived = [v for v in policy["violations"] if v["enforcement"] == "waived"]
    if waived or policy["expiredWaivers"]:
        out += ["", "**Waivers**", ""]
        out += [f"- `{v['rule']}` on `{v['resource_name']}`: {_cell(v['waiver'])}" for v in waived]
        out += [f"- ❌ expired: {_cell(item)}" for item in policy["expiredWaivers"]]
    budget = plan["cost"]["budgetUsdPerMonth"]
    cost_line = f"**Estimated cost**: USD {_usd(change.usd)} per month"
    if compare:
        cost_line += f" (base branch {_usd(change.base_usd)}, change {_signed(change.delta)})"
    if budget is not None:
        cost_line += f"; budget USD {_usd(budget)}: " + ("**over budget**" if plan["cost"]["overBudget"] else "within")
    out += ["", cost_line]
    if change.by_type:
        out += ["", "| Type | USD/month | Change |", "|---|--:|--:|"]
        for rtype, (usd, usd_before) in change.by_type.items():
            out.append(f"| `{rtype}` | {_usd(usd)} | {_signed(round(usd - usd_before, 2)) if compare else 'n/a'} |")
    out += ["", "</details>", ""]
    return out


def _preview_section(previews: Mapping[str, str]) -> list[str]:
    out = ["### `pulumi preview` with cloud credentials", ""]
    if not previews:
        return [
            *out,
            "Not run: cloud previews run only for branches of this repository, never for forks.",
            "",
        ]
    for name, text in previews.items():
        if len(text) > MAX_PREVIEW_CHARS:
            text = (
                f"… ({len(text) - MAX_PREVIEW_CHARS} characters cut; full output in the job log)\n"
                + text[-MAX_PREVIEW_CHARS:]
            )
        fence = _fence(text)
        out += [
            f"<details><summary><b>{name}</b></summary>",
            "",
            f"{fence}text",
            text.rstrip(),
            fence,
            "</details>",
            "",
        ]
    return out


def render_comment(
    head: Mapping[str, Plan | None],
    base: Mapping[str, Plan | None] | None = None,
    previews: Mapping[str, str] | None = None,
    run_url: str | None = None,
) -> str:
    """The whole comment: summary table, per-stack details, removed stacks and previews."""
    has_base = base is not None
    base = base or {}
    out = [
        MARKER,
        "## Offline plan and policy review",
        "",
        "Every shipped stack planned under the Pulumi mock runtime (no cloud credentials). Violations are "
        "mandatory / advisory / waived; cost is the estimate in USD per month"
        + (", its change against the base branch." if has_base else "; no base-branch plans to compare with."),
        "",
        "| Stack | Platform | Resources | Violations | USD/month | Change | Budget | Result |",
        "|---|---|--:|---|--:|--:|--:|---|",
    ]
    out += [_summary_row(name, plan, base.get(name), has_base) for name, plan in sorted(head.items())]
    removed = sorted(set(base) - set(head))
    if removed:
        out += ["", "Stacks removed in this branch: " + ", ".join(f"`{name}`" for name in removed)]
    out.append("")
    details = [
        line
        for name, plan in sorted(head.items())
        if plan
        for line in _stack_details(name, plan, base.get(name), has_base)
    ]
    tail = _preview_section(previews or {}) if previews is not None else []
    if run_url:
        tail.append(f"Reports (Markdown, SARIF, JUnit) are in the artifacts of [this run]({run_url}).")
    body = "\n".join(out + details + tail)
    if len(body) > MAX_COMMENT_CHARS:
        # Keep the summary and previews whole; the per-stack details are in the artifacts.
        body = "\n".join([*out, "Per-stack details were left out: the comment would be too long.", "", *tail])
    if len(body) > MAX_COMMENT_CHARS:
        body = body[:MAX_COMMENT_CHARS] + "\n\n… (cut: the comment would be too long; see the job log)"
    return body + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: write the comment; print why each failing stack fails. Exit 2 when there are no plans, else 0."""
    parser = argparse.ArgumentParser(prog="python -m offline.ci_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=Path, required=True, help="folder of <stack>.json plans of this branch")
    parser.add_argument("--base", type=Path, help="folder of <stack>.json plans of the base branch")
    parser.add_argument("--previews", type=Path, help="folder of <stack>.txt outputs of pulumi preview")
    parser.add_argument("--run-url", help="link to the CI run whose artifacts hold the full reports")
    parser.add_argument("--out", type=Path, help="write the comment here (default: print it)")
    args = parser.parse_args(argv)
    head = load_plans(args.plans) if args.plans.is_dir() else {}
    base = load_plans(args.base) if args.base and args.base.is_dir() else None
    previews = load_previews(args.previews) if args.previews else None
    if head:
        comment = render_comment(head, base, previews, args.run_url)
    else:
        # Still a comment, so the pull request shows that the plan job broke rather than an old result.
        print(f"error: no <stack>.json plans in {args.plans}", file=sys.stderr)
        link = f" ([run]({args.run_url}))" if args.run_url else ""
        comment = f"{MARKER}\n## Offline plan and policy review\n\n❌ The offline plan produced no plans{link}.\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(comment)
    else:
        print(comment, end="")
    for name, plan in sorted(head.items()):
        for line in failure_lines(name, plan):
            print(f"FAILED {line}", file=sys.stderr)
    return 0 if head else 2


if __name__ == "__main__":
    sys.exit(main())
