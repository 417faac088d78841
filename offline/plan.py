"""The offline plan: ``make plan STACK=<name>`` (``python -m offline.plan --stack <name>``).

Runs the real program for ``Pulumi.<name>.yaml`` under the Pulumi mock
runtime and prints the resource inventory (by type and by system), the
policy review, the estimated monthly cost and the estimated deployment
critical path. ``--json`` prints the same for machines.

Exit codes: 0 clean (advisory findings allowed), 1 mandatory policy
violations or an expired waiver, 2 bad config or stack file, 3 an internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from offline.cli_errors import (  # noqa: F401 (the exit codes are part of this command's interface)
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_VIOLATIONS,
    run_reporting_errors,
    stack_arguments,
)
from offline.cost import CostEstimate, estimate
from offline.critical_path import CriticalPath, critical_path
from offline.harness import ROOT, Captured, ProgramRun, load_stack_file, run_program
from offline.review import Review, review
from stacks.config import StackConfig, parse_stack_config


@dataclass
class Plan:
    """Everything the plan reports about one stack."""

    config: StackConfig
    run: ProgramRun
    review: Review
    cost: CostEstimate
    path: CriticalPath
    seconds: float

    @property
    def over_budget(self) -> bool:
        """True when the estimate exceeds the stack's ``budgetUsdPerMonth``."""
        budget = self.config.budget_usd_per_month
        return budget is not None and self.cost.total > budget

    @property
    def exit_code(self) -> int:
        """1 when any mandatory violation, expired waiver or budget overrun exists."""
        return EXIT_VIOLATIONS if self.review.failed or self.over_budget else EXIT_OK


def system_of(record: Captured, by_urn: dict[str, Captured]) -> str:
    """The clinical system a resource belongs to, or 'foundation' for shared parts."""
    current: Captured | None = record
    while current is not None:
        if current.type.endswith(":System"):
            return current.name
        current = by_urn.get(current.parent)
    return "foundation"


def owner_of(record: Captured, by_urn: dict[str, Captured]) -> str:
    """The component a resource was registered under, as '<name> (<type>)', or 'stack' at the top level.

    A security officer goes from a finding to the component (and so the module and team) that owns it.
    """
    parent = by_urn.get(record.parent)
    if parent is None or parent.type == "pulumi:pulumi:Stack":
        return "stack"
    return f"{parent.name} ({parent.type})"


def make_plan(stack: str, stack_dir: Path = ROOT) -> Plan:
    """Validate the stack's config, run the program, review and price it."""
    started = time.perf_counter()
    config_values, secret_keys = load_stack_file(stack, stack_dir)
    prefix = "clinical-platform:"
    raw = {k[len(prefix) :]: v for k, v in config_values.items() if k.startswith(prefix)}
    provider = {k: v for k, v in config_values.items() if not k.startswith(prefix)}
    config = parse_stack_config(raw, {k[len(prefix) :] for k in secret_keys}, stack, provider)
    run = run_program(stack, config=config_values, secret_keys=secret_keys)
    result = review(
        run.resources,
        environment=config.environment,
        enforcement=config.enforcement,
        overrides=config.policy.overrides,
        waivers=config.policy.waivers,
        data_classification=config.tags.get("dataClassification"),
    )
    return Plan(
        config, run, result, estimate(run.resources), critical_path(run.resources), time.perf_counter() - started
    )


def _owner(urn: str, by_urn: dict[str, Captured]) -> dict[str, str]:
    """Where a finding's resource lives: its clinical system and the component that registered it."""
    record = by_urn.get(urn)
    if record is None:  # a stack rule's finding on the stack itself
        return {"system": "stack", "owner": "stack"}
    return {"system": system_of(record, by_urn), "owner": owner_of(record, by_urn)}


def to_json(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (``--json``)."""
    by_urn = {r.urn: r for r in plan.run.resources}
    customs = [r for r in plan.run.resources if r.custom]
    return {
        "stack": plan.config.stack,
        "environment": plan.config.environment,
        "cloud": plan.config.cloud,
        "runtime": plan.config.runtime,
        "systems": plan.config.systems,
        "resources": {
            "total": len(customs),
            "components": len(plan.run.resources) - len(customs),
            "byType": dict(sorted(Counter(r.type for r in customs).items())),
            "bySystem": dict(sorted(Counter(system_of(r, by_urn) for r in customs).items())),
            "protected": sorted(r.name for r in customs if r.protect),
        },
        "routes": plan.run.exports.get("routes", {}),
        "machines": plan.run.exports.get("machines", {}),
        "policy": {
            "enforcement": plan.config.enforcement,
            "resourcesReviewed": plan.review.resources_reviewed,
            "rulesEvaluated": plan.review.rules_evaluated,
            "mandatory": len(plan.review.mandatory),
            "advisory": len(plan.review.advisory),
            "waived": len(plan.review.waived),
            "expiredWaivers": plan.review.expired_waivers,
            "bySeverity": dict(Counter(v.severity for v in plan.review.violations)),
            "violations": [{**asdict(v), **_owner(v.urn, by_urn)} for v in plan.review.violations],
            "notRun": plan.review.not_run,
        },
        "cost": {
            "usdPerMonth": plan.cost.total,
            "budgetUsdPerMonth": plan.config.budget_usd_per_month,
            "overBudget": plan.over_budget,
            "byType": plan.cost.by_type(),
            "lines": [asdict(line) for line in plan.cost.lines],
        },
        "criticalPath": {
            "seconds": plan.path.seconds,
            "chain": [{"type": t, "name": n, "seconds": s} for t, n, s in plan.path.chain],
        },
        "planSeconds": round(plan.seconds, 3),
        "exitCode": plan.exit_code,
    }


def _shape(machine: dict[str, Any]) -> str:
    """A VM shape in its cloud's words: AWS instance type, or GCP machine type (+ attached GPUs)."""
    name = str(machine.get("instanceType") or machine.get("machineType"))
    return f"{name} + {machine['accelerator']}" if machine.get("accelerator") and "+" not in name else name


def render_text(plan: Plan) -> str:
    """The plan for people."""
    data = to_json(plan)
    out = [
        f"Stack {data['stack']} ({data['environment']}): cloud {data['cloud']}, runtime {data['runtime']}",
        f"Systems: {', '.join(data['systems'])}",
        "",
        f"Resources: {data['resources']['total']} (+{data['resources']['components']} components)",
    ]
    out += [f"  {count:4d}  {rtype}" for rtype, count in data["resources"]["byType"].items()]
    out.append("By system:")
    out += [f"  {count:4d}  {system}" for system, count in data["resources"]["bySystem"].items()]
    if data["resources"]["protected"]:
        out.append(f"Protected (pulumi destroy refuses): {len(data['resources']['protected'])}")
    out.append("Routes:")
    for system, urls in data["routes"].items():
        out += [f"  {system:20s} {url}" for url in urls]
    for system, m in data["machines"].items():
        if "needs" not in m:  # a cluster's node pool, not one VM per system
            out.append(f"Nodes {system}: {m['count']} x {_shape(m)} at USD {m['usdPerHour']}/h ({m['why']})")
            continue
        need = m["needs"]
        gpu = need["gpu"]
        gpu_text = f", {gpu['count']} GPU >= {gpu['min_vram_gb']} GiB" if gpu else ""
        out.append(
            f"VMs of {system}: {m['count']} x {_shape(m)} at USD {m['usdPerHour']}/h "
            f"(needs {need['vcpus']:g} vCPU, {need['memoryGb']} GiB{gpu_text})"
        )
        if m.get("gpuOnly"):
            out.append(
                f"  the GPU alone: {_shape(m['gpuOnly'])} at USD {m['gpuOnly']['usdPerHour']}/h; "
                f"the guide's pick {_shape(m['guidePick'])} at USD {m['guidePick']['usdPerHour']}/h"
            )
    policy = data["policy"]
    out += [
        "",
        f"Policy review ({policy['enforcement']} by default): {policy['resourcesReviewed']} resources, "
        f"{policy['rulesEvaluated']} rules, {policy['mandatory']} mandatory, {policy['advisory']} advisory, "
        f"{policy['waived']} waived",
    ]
    by_urn = {r.urn: r for r in plan.run.resources}
    for v in plan.review.violations:
        where = _owner(v.urn, by_urn)
        out.append(f"  [{v.enforcement.upper():9s}] {v.severity:8s} {v.rule}: {v.message}")
        out.append(f"               in {where['system']}, owned by {where['owner']}")
        out.append(f"               fix: {v.remediation}  ({v.hipaa})")
        if v.waiver:
            out.append(f"               {v.waiver}")
    out += [f"  EXPIRED WAIVER: {item}" for item in policy["expiredWaivers"]]
    out += [f"  note: {item}" for item in policy["notRun"]]
    if not plan.review.violations:
        out.append("  clean: no violations")
    out += ["", "Estimated monthly cost:"]
    if not plan.cost.lines:
        out.append("  USD 0.00: no cloud cost (on-premises Docker host; hardware and licences not included)")
    else:
        out += [f"  {line.usd_per_month:10.2f}  {line.resource_name} ({line.basis})" for line in plan.cost.lines]
        out.append(f"  {plan.cost.total:10.2f}  USD per month in total")
    budget = plan.config.budget_usd_per_month
    if budget is not None:
        verdict = "OVER BUDGET" if plan.over_budget else "within budget"
        out.append(f"  budget USD {budget:.2f} per month: {verdict}")
        if plan.over_budget:
            out.append(
                f"  FAILED: estimated USD {plan.cost.total:.2f}/month exceeds clinical-platform:budgetUsdPerMonth "
                f"({budget:.2f}); choose smaller sizes or GPUs, or raise the budget"
            )
    minutes, seconds = divmod(plan.path.seconds, 60)
    out += ["", f"Estimated deployment critical path: {int(minutes)}m{seconds:04.1f}s"]
    out += [f"  {s:7.1f}s  {name} ({rtype})" for rtype, name, s in plan.path.chain]
    out += [
        "",
        f"Planned in {plan.seconds:.2f}s. "
        + ("FAILED: mandatory violations, expired waivers or over budget." if plan.exit_code else "OK."),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="make plan", description=__doc__.splitlines()[0])
    stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)

    def plan_and_print() -> int:
        plan = make_plan(args.stack, args.stack_dir)
        print(json.dumps(to_json(plan), indent=2) if args.json else render_text(plan))
        return plan.exit_code

    return run_reporting_errors(args.stack, plan_and_print, args.debug)


if __name__ == "__main__":
    sys.exit(main())
