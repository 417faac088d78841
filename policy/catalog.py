"""The rule catalogue: every rule of every family module, by name."""

from __future__ import annotations

from policy import docker_rules
from policy.rule import Rule

RULES: list[Rule] = [*docker_rules.RULES]
RULE_NAMES: dict[str, Rule] = {r.name: r for r in RULES}
