"""``make review STACK=<name> [OUT=review]``: the compliance review files of a stack.

Runs the offline plan of ``Pulumi.<stack>.yaml`` and writes ``OUT/<stack>/``:
``report.md`` (to read and sign), ``report.json``, ``report.sarif`` (SARIF
2.1.0 for code scanning), ``junit.xml`` (CI test reporters) and
``summary.md`` (a pull-request comment). Prints the summary.

Exit codes, as ``make plan``: 0 clean, 1 blocking (a mandatory violation, an
expired waiver or the budget exceeded), 2 bad config or stack file (one
line per problem, nothing written), 3 an internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from offline.cli_errors import run_reporting_errors, stack_arguments
from offline.harness import ROOT
from offline.junit import render_junit
from offline.plan import make_plan
from offline.report import ComplianceReport, build_report, to_json
from offline.report_markdown import render_report, render_summary
from offline.sarif import to_sarif

FILES = ("report.md", "report.json", "report.sarif", "junit.xml", "summary.md")


def write_review(report: ComplianceReport, out: Path, stack_text: str) -> list[Path]:
    """Write every review file of ``report`` under ``out/<stack>/``; return their paths."""
    folder = out / report.stack
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "report.md": render_report(report),
        "report.json": json.dumps(to_json(report), indent=2) + "\n",
        "report.sarif": json.dumps(to_sarif(report, stack_text), indent=2) + "\n",
        "junit.xml": render_junit(report),
        "summary.md": render_summary(report),
    }
    for name, text in contents.items():
        (folder / name).write_text(text)
    return [folder / name for name in FILES]


def review_stack(stack: str, stack_dir: Path = ROOT, out: Path = Path("review")) -> int:
    """Plan, review and write the files of ``stack``; return the exit code."""
    plan = make_plan(stack, stack_dir)
    stack_file = stack_dir / f"Pulumi.{stack}.yaml"
    report = build_report(plan, stack_file)
    paths = write_review(report, out, stack_file.read_text())
    print(render_summary(report))
    print(f"Wrote {', '.join(str(p) for p in paths)}")
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="make review", description=__doc__.splitlines()[0])
    stack_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("review"), help="output folder (default: review)")
    args = parser.parse_args(argv)
    return run_reporting_errors(args.stack, lambda: review_stack(args.stack, args.stack_dir, args.out), args.debug)


if __name__ == "__main__":
    sys.exit(main())
