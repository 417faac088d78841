"""``Resilience``: how much a stack invests in surviving failures and mistakes.

One value per stack, resolved from a named profile (``stacks/resilience.py``)
and the stack's overrides; components read the fields they need, never the
environment's name, so "prod-like except multi-AZ" is one line of config.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Resilience(BaseModel):
    """Availability and data-protection choices. Defaults are the cheapest safe ones (a dev stack)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    multi_az: bool = Field(
        False, description="Managed databases and caches keep a standby in a second zone with automatic failover."
    )
    deletion_protection: bool = Field(
        False, description="The cloud refuses to delete databases and load balancers until it is turned off."
    )
    backup_days: int = Field(
        7,
        ge=1,
        le=35,
        description="Days automated database backups and cache snapshots are kept (35 is AWS's maximum).",
    )
    final_snapshot: bool = Field(False, description="A database takes a last snapshot when it is deleted.")
    protect: bool = Field(
        False,
        description="Pulumi `protect` on stateful resources (keys, databases, caches, buckets, volumes, secrets): "
        "`pulumi destroy` stops until it is lifted.",
    )
    replicas: int = Field(
        1, ge=1, le=16, description="VMs per system on clouds, and copies of the services that scale out."
    )
    nat_per_zone: bool = Field(False, description="One NAT gateway per zone, so losing a zone keeps egress.")
    secret_recovery_days: int = Field(
        7, ge=7, le=30, description="Days a deleted secret can still be restored (Secrets Manager recovery window)."
    )
