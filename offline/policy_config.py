"""``make policy-config STACK=<name> [OUT=review]``: the policy-pack config file of a stack.

Writes ``OUT/<stack>/policy-config.json`` for::

    pulumi preview --policy-pack policy --policy-pack-config OUT/<stack>/policy-config.json

Every rule gets an explicit entry ``{"enforcementLevel": ..., "environment": ..., "dataClassification": ...,
"waivers": [...]}``.
The level comes from ``offline.review.enforcement_for`` with the stack's
policy settings, the function the offline plan uses, so the engine and the
plan enforce the same thing. An explicit per-policy level overrides both the
policy's own and the pack's default in the engine. ``environment`` and
``dataClassification`` (the stack's ``tags.dataClassification``: PHI gets
prod-grade data protection on any environment) are what the rules read with
``args.get_config()`` (the offline plan passes the same). ``waivers`` are the
stack's waivers of that rule (resource pattern, approver, expiry, reason):
the rule itself skips a finding an active waiver covers and reports it again
once the waiver has expired, so a stack with a waived mandatory finding
deploys under the engine exactly as its offline review passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from offline.cli_errors import run_reporting_errors, stack_arguments
from offline.harness import ROOT
from offline.plan import make_plan
from offline.report import catalogue
from offline.review import enforcement_for, policy_settings
from stacks.config import StackConfig

FILE_NAME = "policy-config.json"


def load_config(stack: str, stack_dir: Path = ROOT) -> StackConfig:
    """The validated config of ``Pulumi.<stack>.yaml`` (raises ``ConfigError`` / ``StackFileError``).

    Read through the offline plan, so the config is parsed exactly as ``make plan`` parses it.
    """
    return make_plan(stack, stack_dir).config


def policy_pack_config(config: StackConfig) -> dict[str, dict[str, Any]]:
    """Policy name -> {"enforcementLevel", "environment", "dataClassification", "waivers"} for every rule of the
    catalogue: what the offline review gives each rule (``offline.review.policy_settings``), plus its level."""
    settings = policy_settings(config.environment, config.tags["dataClassification"], config.policy.waivers)
    return {
        rule.name: {
            "enforcementLevel": enforcement_for(rule.name, config.enforcement, config.policy.overrides),
            **settings[rule.name],
        }
        for rule in catalogue()
    }


def write_policy_config(config: StackConfig, out: Path) -> Path:
    """Write ``out/<stack>/policy-config.json`` and return its path."""
    path = out / config.stack / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(policy_pack_config(config), indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 written, 2 bad config or stack file, 3 internal error."""
    parser = argparse.ArgumentParser(prog="make policy-config", description=__doc__.splitlines()[0])
    stack_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("review"), help="output folder (default: review)")
    args = parser.parse_args(argv)

    def write() -> int:
        path = write_policy_config(load_config(args.stack, args.stack_dir), args.out)
        print(f"wrote {path}; use: pulumi preview --policy-pack policy --policy-pack-config {path}")
        return 0

    return run_reporting_errors(args.stack, write, args.debug)


if __name__ == "__main__":
    sys.exit(main())
