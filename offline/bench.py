"""``make bench``: plan time and resource count for every shipped stack, and the review's share.

Each stack is planned ``--repeat`` times as a whole process (imports,
config validation, the program under mocks, the policy review), which is
what a user or CI waits for, and the in-process plan time is reported
beside it. For the largest stack the program run and the policy review are
also timed apart, in process, to show what the review adds to the plan.
Figures: min / median / max seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from offline.harness import ROOT


def shipped_stacks() -> list[str]:
    """Every ``Pulumi.<stack>.yaml`` in the repository."""
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def bench_stack(stack: str, repeat: int) -> dict[str, float | int | str]:
    """Run the plan ``repeat`` times; return timings and counts."""
    wall: list[float] = []
    inner: list[float] = []
    data: dict = {}
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "offline.plan", "--stack", stack, "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"plan of {stack} failed ({done.returncode}): {done.stderr.strip()}")
        data = json.loads(done.stdout)
        inner.append(data["planSeconds"])
    return {
        "stack": stack,
        "resources": data["resources"]["total"],
        "components": data["resources"]["components"],
        "violations": len(data["policy"]["violations"]),
        "process_min": min(wall),
        "process_median": statistics.median(wall),
        "process_max": max(wall),
        "plan_min": min(inner),
        "plan_median": statistics.median(inner),
    }


def review_share(stack: str, repeat: int) -> dict[str, float]:
    """Median seconds of running the program and of reviewing its resources, in this process."""
    from offline.plan import make_plan
    from offline.review import review

    program, reviewing = [], []
    for _ in range(repeat):
        plan = make_plan(stack)
        started = time.perf_counter()
        review(
            plan.run.resources,
            environment=plan.config.environment,
            enforcement=plan.config.enforcement,
            overrides=plan.config.policy.overrides,
            waivers=plan.config.policy.waivers,
            data_classification=plan.config.tags.get("dataClassification"),
        )
        reviewing.append(time.perf_counter() - started)
        program.append(plan.seconds - reviewing[-1])
    return {"program": statistics.median(program), "review": statistics.median(reviewing)}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per stack (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--real",
        action="store_true",
        help="also time the real Pulumi CLI on local (dockerd) and cluster (the kube harness; make kube-tools)",
    )
    args = parser.parse_args(argv)
    rows = [bench_stack(stack, args.repeat) for stack in shipped_stacks()]
    largest = max(rows, key=lambda r: int(r["resources"]))
    share = review_share(str(largest["stack"]), args.repeat)
    real = real_engine(args.real)
    real_cluster = real_cluster_engine(args.real)
    if args.json:
        document = {"stacks": rows, "review": {"stack": largest["stack"], **share}, "realEngine": real}
        print(json.dumps({**document, "realCluster": real_cluster}, indent=2))
        return 0
    print(f"{args.repeat} runs per stack; seconds as min / median / max\n")
    print(f"{'stack':12s} {'resources':>9s} {'components':>10s} {'process (s)':>24s} {'in-process plan (s)':>20s}")
    for r in rows:
        process = f"{r['process_min']:.2f} / {r['process_median']:.2f} / {r['process_max']:.2f}"
        plan = f"{r['plan_min']:.2f} / {r['plan_median']:.2f}"
        print(f"{r['stack']:12s} {r['resources']:>9} {r['components']:>10} {process:>24s} {plan:>20s}")
    ratio = share["review"] / share["program"] if share["program"] else 0.0
    print(
        f"\npolicy review of the largest stack ({largest['stack']}, {largest['resources']} resources): "
        f"{share['review']:.3f}s on top of {share['program']:.3f}s for the rest of the plan = +{ratio:.0%} (median)"
    )
    if isinstance(real, str):
        print(f"\nreal engine: {real}")
    elif real:
        local = next(r for r in rows if r["stack"] == "local")
        offline = float(local["process_median"])
        print(
            "\nreal Pulumi CLI on local (one run, images present), next to its offline plan "
            f"({offline:.2f}s median process):"
        )
        for label, seconds in real.items():
            print(f"  {label:20s} {seconds:7.2f}s  = {seconds / offline:5.1f}x the offline plan")
    if isinstance(real_cluster, str):
        print(f"\nreal cluster: {real_cluster}")
    elif real_cluster:
        print("\nreal Pulumi CLI on cluster (all five systems) against kube-apiserver with kwok nodes (one run):")
        for label, seconds in real_cluster.items():
            print(f"  {label:20s} {seconds:7.2f}s")
    return 0


def real_engine(wanted: bool) -> dict[str, float] | str | None:
    """Real CLI times of local, or why they were not taken (None when not asked for)."""
    if not wanted:
        return None
    try:
        from tests.e2e.engine import MissingEngineError
        from tests.e2e.timing import real_engine_times
    except ImportError as exc:  # the tests folder is not shipped everywhere
        return f"not measured ({exc})"
    try:
        return real_engine_times("local")
    except MissingEngineError as exc:
        return f"not measured: {exc}"


def real_cluster_engine(wanted: bool) -> dict[str, float] | str | None:
    """Real CLI times of the cluster stack on the kube harness, or why they were not taken."""
    if not wanted:
        return None
    try:
        from tests.e2e.engine import MissingEngineError
        from tests.e2e.timing import real_cluster_times
    except ImportError as exc:
        return f"not measured ({exc})"
    try:
        return real_cluster_times()
    except MissingEngineError as exc:
        return f"not measured: {exc}"


if __name__ == "__main__":
    sys.exit(main())
