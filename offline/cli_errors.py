"""What every stack command (plan, review, policy-config) shares: its arguments and exit codes, and
bad input reported as one line per problem, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from offline.harness import ROOT, StackFileError
from stacks.config import ConfigError

EXIT_OK, EXIT_VIOLATIONS, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 3


def stack_arguments(parser: argparse.ArgumentParser) -> None:
    """--stack, --stack-dir and --debug, as every stack command takes them."""
    parser.add_argument("--stack", default="local", help="stack name: reads Pulumi.<stack>.yaml (default: local)")
    parser.add_argument("--stack-dir", type=Path, default=ROOT, help="folder of the Pulumi.<stack>.yaml files")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")


def run_reporting_errors(stack: str, action: Callable[[], int], debug: bool = False) -> int:
    """``action()``'s exit code; 2 on a config or stack-file error, 3 on an internal error (``debug`` re-raises)."""
    try:
        return action()
    except ConfigError as exc:
        print(f"Stack '{stack}' has {len(exc.problems)} config error(s); nothing was planned:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # a defect in the platform, not in the user's input
        if debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}; rerun with --debug for the traceback", file=sys.stderr)
        return EXIT_INTERNAL
