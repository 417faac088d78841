"""Entry point for `pulumi preview --policy-pack policy`: serves ALL_POLICIES to the engine."""

import sys
from pathlib import Path

# The engine starts the pack with policy/ as its working directory; the rules import the
# project's packages (policy, components) from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy import ALL_POLICIES

PolicyPack(
    name="clinical-platform-compliance",
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="HIPAA-mapped TLS, encryption, firewall, data-protection and hardening rules for clinical AI stacks.",
)
