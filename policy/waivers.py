"""Signed waivers as the pack itself applies them, so the engine and the offline review decide alike.

A stack's waivers (``policy.waivers``: rule, resource pattern, approver,
expiry, reason) travel in the policy-pack config, under each rule's own
entry (``make policy-config`` writes them; the offline review passes the
same). A rule skips a finding on a resource a waiver of that rule covers
until the waiver's expiry date (inclusive), and says so; once the waiver has
expired the finding is reported again, at the rule's level, naming the
expired waiver. Patterns are shell-style wildcards on the resource's logical
name, as in the stack file.
"""

from __future__ import annotations

import datetime
import fnmatch
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CONFIG_KEY = "waivers"
# Optional config key: the date the review is made on (ISO); the engine omits it and uses today.
REVIEW_DATE_KEY = "reviewDate"


@dataclass(frozen=True)
class PackWaiver:
    """One waiver of one rule, as the policy-pack config carries it."""

    rule: str
    resource: str  # shell-style pattern on the resource's logical name
    approved_by: str
    expires: datetime.date
    reason: str

    def covers(self, rule: str, resource_name: str) -> bool:
        """True when this waiver is for ``rule`` and its pattern matches ``resource_name`` (expired or not)."""
        return rule == self.rule and fnmatch.fnmatchcase(resource_name, self.resource)

    def note(self) -> str:
        """What a waived finding says instead of blocking."""
        return f"waived until {self.expires} by {self.approved_by}: {self.reason}"

    def to_config(self) -> dict[str, str]:
        """The waiver's entry under its rule in the policy-pack config (JSON)."""
        return {
            "resource": self.resource,
            "approvedBy": self.approved_by,
            "expires": self.expires.isoformat(),
            "reason": self.reason,
        }


def by_rule(waivers: Iterable[PackWaiver]) -> dict[str, list[dict[str, str]]]:
    """Rule name -> its waivers' config entries, for the policy-pack config."""
    out: dict[str, list[dict[str, str]]] = {}
    for w in waivers:
        out.setdefault(w.rule, []).append(w.to_config())
    return out


def from_config(rule: str, config: Mapping[str, Any] | None) -> list[PackWaiver]:
    """The waivers of ``rule`` in its policy-pack config entry (an entry without any: none)."""
    entries = (config or {}).get(CONFIG_KEY) or []
    return [
        PackWaiver(
            rule=rule,
            resource=str(e["resource"]),
            approved_by=str(e["approvedBy"]),
            expires=datetime.date.fromisoformat(str(e["expires"])[:10]),
            reason=str(e.get("reason") or ""),
        )
        for e in entries
    ]


def review_date(config: Mapping[str, Any] | None) -> datetime.date:
    """The date waivers are judged on: the config's ``reviewDate`` when given, else today."""
    given = (config or {}).get(REVIEW_DATE_KEY)
    return datetime.date.fromisoformat(str(given)[:10]) if given else datetime.date.today()


@dataclass(frozen=True)
class Waived:
    """A finding a waiver covered: not reported as a violation (the offline review lists it as WAIVED)."""

    rule: str
    urn: str
    resource_name: str
    message: str
    note: str


# The findings waivers covered, appended as rules run (the offline review reads and clears it; under the engine
# each one is also written to the analyzer's stderr, which the Pulumi CLI keeps in its logs).
WAIVED: list[Waived] = []
LOG_TO_STDERR = True  # the offline review turns it off: it lists waived findings in its report instead


def decide(rule: str, resource_name: str, urn: str, message: str, config: Mapping[str, Any] | None) -> str | None:
    """The message to report for a finding, or None when an active waiver covers it (then recorded as waived).

    A finding covered only by expired waivers is reported, naming the waiver that expired."""
    covering = [w for w in from_config(rule, config) if w.covers(rule, resource_name)]
    if not covering:
        return message
    today = review_date(config)
    active = next((w for w in covering if w.expires >= today), None)
    if active is not None:
        WAIVED.append(Waived(rule, urn, resource_name, message, active.note()))
        if LOG_TO_STDERR:
            print(f"{rule}: {resource_name}: {active.note()} ({message})", file=sys.stderr)
        return None
    latest = max(covering, key=lambda w: w.expires)
    return f"{message} (the waiver approved by {latest.approved_by} expired on {latest.expires})"
