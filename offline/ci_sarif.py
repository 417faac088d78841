"""One SARIF file for code scanning from every stack's review: ``python -m offline.ci_sarif``.

``make review`` writes ``<review>/<stack>/report.sarif`` per stack. Code
scanning refuses an upload holding two runs of the same tool with the same
category, so each run gets the category ``clinical-platform-review/<stack>/``
(SARIF ``automationDetails.id``); alerts are then tracked per stack.

Standard library only, like ``offline.ci_comment``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
CATEGORY_PREFIX = "clinical-platform-review"


def merge(reports: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Every run of every stack's SARIF document in one document, each run categorised by its stack."""
    runs = []
    for stack, document in sorted(reports.items()):
        for run in document.get("runs", []):
            run = dict(run)
            # Code scanning keys analyses by this id: one per stack keeps the stacks' alerts apart.
            run["automationDetails"] = {**run.get("automationDetails", {}), "id": f"{CATEGORY_PREFIX}/{stack}/"}
            runs.append(run)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def load_reports(review_dir: Path) -> dict[str, dict[str, Any]]:
    """``<review_dir>/<stack>/report.sarif`` per stack."""
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(review_dir.glob("*/report.sarif"))}


def main(argv: list[str] | None = None) -> int:
    """CLI: merge the stacks' SARIF reports; exit 1 when there is none to merge."""
    parser = argparse.ArgumentParser(prog="python -m offline.ci_sarif", description=__doc__.splitlines()[0])
    parser.add_argument("--review", type=Path, required=True, help="folder with <stack>/report.sarif")
    parser.add_argument("--out", type=Path, required=True, help="the merged SARIF file to write")
    args = parser.parse_args(argv)
    reports = load_reports(args.review) if args.review.is_dir() else {}
    if not reports:
        print(f"error: no <stack>/report.sarif under {args.review}; run `make review` first", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merge(reports), indent=2) + "\n")
    print(f"{args.out}: {sum(len(r.get('runs', [])) for r in reports.values())} run(s) from {', '.join(reports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
