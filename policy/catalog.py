"""The rule catalogue: every rule of every family module, by name.

Order: the single Docker host, generated secrets, AWS, Kubernetes (with its
EKS and GKE clusters), then GCP last (tests/test_policy_gcp.py keeps it last).
"""

from __future__ import annotations

from policy import aws_rules, docker_rules, gcp_rules, k8s_rules, secret_rules
from policy.rule import Rule, StackRule

RULES: list[Rule] = [
    *docker_rules.RULES,
    *secret_rules.RULES,
    *aws_rules.RULES,
    *k8s_rules.RULES,
    *gcp_rules.RULES,
]
STACK_RULES: list[StackRule] = [
    *docker_rules.STACK_RULES,
    *secret_rules.STACK_RULES,
    *aws_rules.STACK_RULES,
    *k8s_rules.STACK_RULES,
    *gcp_rules.STACK_RULES,
]
_EVERY: list[Rule | StackRule] = [*RULES, *STACK_RULES]
RULE_NAMES: dict[str, Rule | StackRule] = {r.name: r for r in _EVERY}
