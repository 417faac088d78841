"""Ephemeral review stacks for pull requests: ``python -m offline.ci_review_stacks``.

A ``review-stack`` label on a pull request deploys stack ``pr-<number>`` from
the template ``Pulumi.preview.yaml`` (cheapest sizes, one zone, spot GPUs, no
deletion protection). CI calls this module to:

* ``write``: write ``Pulumi.pr-<number>.yaml`` from the template, with the tags
  ``reviewStack: pr-<number>`` and ``expires: <date>`` (today + the TTL) and
  its own DNS domain ``pr-<number>.<template domain>``, so review stacks never
  share a host name;
* ``expired``: list the review stacks, from ``pulumi stack ls --json``, whose
  last update is older than the TTL: the same date as their ``expires`` tag,
  since every update rewrites it;
* ``comment``: the pull-request comment with the stack's URLs, or saying it
  was destroyed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "preview"
MARKER = "<!-- clinical-platform-review-stack -->"
DEFAULT_TTL_DAYS = 7
_REVIEW_STACK = re.compile(r"^(?:.*/)?pr-(\d+)$")  # "pr-12", or "org/pr-12" / "org/project/pr-12"


def stack_name(number: int) -> str:
    """The review stack of pull request ``number``."""
    return f"pr-{number}"


def expiry_date(today: datetime.date, ttl_days: int) -> datetime.date:
    """The day a review stack updated ``today`` expires."""
    return today + datetime.timedelta(days=ttl_days)


def write_stack_file(number: int, ttl_days: int, today: datetime.date, root: Path = ROOT) -> Path:
    """Write ``Pulumi.pr-<number>.yaml`` from the template: review-stack and expiry tags, a domain of its own."""
    template = root / f"Pulumi.{TEMPLATE}.yaml"
    document: dict[str, Any] = yaml.safe_load(template.read_text()) or {}
    config = document.setdefault("config", {})
    tags_key = "tags" if "tags" in config else "clinical-platform:tags"
    config[tags_key] = {
        **(config.get(tags_key) or {}),
        "reviewStack": stack_name(number),
        "expires": expiry_date(today, ttl_days).isoformat(),
    }
    domain_key = "domain" if "domain" in config else "clinical-platform:domain"
    if config.get(domain_key):
        config[domain_key] = f"{stack_name(number)}.{config[domain_key]}"
    # The stack name no longer implies the environment, so the template's environment is made explicit.
    if "environment" not in config and "clinical-platform:environment" not in config:
        config["clinical-platform:environment"] = TEMPLATE
    path = root / f"Pulumi.{stack_name(number)}.yaml"
    header = f"# Review stack of pull request #{number}, written by CI from Pulumi.{TEMPLATE}.yaml; not committed.\n"
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
    return path


def _utc(timestamp: str) -> datetime.datetime:
    """An ISO 8601 time as UTC (the CLI prints UTC; a time without a zone is taken as UTC)."""
    parsed = datetime.datetime.fromisoformat(timestamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def expired(stacks: list[dict[str, Any]], ttl_days: int, now: datetime.datetime) -> list[str]:
    """Names of review stacks (from ``pulumi stack ls --json``) past their expiry and not being updated."""
    names = []
    for stack in stacks:
        if not _REVIEW_STACK.match(stack.get("name", "")) or stack.get("updateInProgress"):
            continue
        last = stack.get("lastUpdate")
        # A stack that never finished an update has nothing worth keeping.
        if not last or _utc(last) + datetime.timedelta(days=ttl_days) < now:
            names.append(stack["name"])
    return names


def comment(number: int, routes: dict[str, list[str]] | None, expires: datetime.date | None) -> str:
    """The review stack's pull-request comment: its URLs, or that it was destroyed (``routes`` None)."""
    name = stack_name(number)
    if routes is None:
        return f"{MARKER}\n### Review stack `{name}`\n\nDestroyed and removed.\n"
    lines = [MARKER, f"### Review stack `{name}`", ""]
    lines.append(f"Up to date with this pull request; destroyed when it closes, or after {expires} if left idle.")
    lines.append("")
    for system, urls in sorted(routes.items()):
        lines += [f"- **{system}**: " + ", ".join(f"<{url}>" for url in urls)]
    if not routes:
        lines.append("The stack exports no routes.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: ``write``, ``expired`` or ``comment``."""
    parser = argparse.ArgumentParser(prog="python -m offline.ci_review_stacks", description=__doc__.splitlines()[0])
    parser.add_argument("--ttl-days", type=int, default=DEFAULT_TTL_DAYS, help="days an idle review stack lives")
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="write Pulumi.pr-<number>.yaml from the template")
    write.add_argument("--number", type=int, required=True)
    write.add_argument("--root", type=Path, default=ROOT, help="folder of the stack files")
    old = sub.add_parser("expired", help="print expired review stacks, one per line")
    old.add_argument("--stacks", type=Path, required=True, help="output of `pulumi stack ls --json`")
    note = sub.add_parser("comment", help="print the pull-request comment")
    note.add_argument("--number", type=int, required=True)
    note.add_argument("--routes", help="the stack's routes output (JSON); omit after destroy")
    args = parser.parse_args(argv)
    today = datetime.datetime.now(datetime.UTC)
    if args.command == "write":
        print(write_stack_file(args.number, args.ttl_days, today.date(), args.root).name)
    elif args.command == "expired":
        for name in expired(json.loads(args.stacks.read_text() or "[]"), args.ttl_days, today):
            print(name)
    else:
        routes = json.loads(args.routes or "{}") if args.routes is not None else None
        print(comment(args.number, routes, expiry_date(today.date(), args.ttl_days)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
