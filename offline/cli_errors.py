"""Run a stack command and report bad input the way ``make plan`` does: one line per problem, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from offline.harness import StackFileError
from offline.plan import EXIT_CONFIG, EXIT_INTERNAL
from stacks.config import ConfigError


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
