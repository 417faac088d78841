"""Named resilience profiles and how a stack picks one.

A stack names a profile (``resilience.profile``) or gets its environment's
default, then overrides single fields (``resilience.multiAz: false`` makes
staging "prod-like except multi-AZ"). The resolved ``Resilience`` is the only
place the platform learns how hard to protect data; nothing else looks at
the environment's name for that.
"""

from __future__ import annotations

from typing import Literal

from components.resilience import Resilience

ProfileName = Literal["standard", "high-availability"]

PROFILES: dict[str, Resilience] = {
    # One of everything, a week of backups, deletable: dev, preview and lab stacks.
    "standard": Resilience(),
    # What production needs: standby zones, 35 days of backups, nothing deletable by accident.
    "high-availability": Resilience(
        multi_az=True,
        deletion_protection=True,
        backup_days=35,
        final_snapshot=True,
        protect=True,
        replicas=2,
        nat_per_zone=True,
        secret_recovery_days=30,
    ),
}

DEFAULT_PROFILE: dict[str, ProfileName] = {"prod": "high-availability"}


def default_profile(environment: str) -> ProfileName:
    """The profile a stack gets when it names none."""
    return DEFAULT_PROFILE.get(environment, "standard")


def resolve(environment: str, profile: ProfileName | None, overrides: dict[str, object]) -> Resilience:
    """The stack's resilience: the named (or environment's default) profile with field overrides applied."""
    base = PROFILES[profile or default_profile(environment)]
    return Resilience.model_validate({**base.model_dump(), **overrides})
