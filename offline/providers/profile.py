"""What the offline plan knows about one resource type of a provider: its profile.

Each provider module (``offline/providers/<provider>.py``) has one table,
type token -> ``ResourceProfile``, and the invokes it answers. The plan's
consumers read nothing else: coverage reads ``kind``, the critical path
``create_seconds``, the cost estimate ``price`` and the mock runtime
``outputs`` (plus the provider's ``common_outputs``, e.g. every AWS ARN).
``tests/test_provider_profiles.py`` fails when a type a shipped stack
registers, or an invoke it calls, has no complete profile.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

# What a resource is, for rule coverage (offline/coverage.py lists the families each kind needs).
Kind = Literal[
    "workload",
    "image",
    "storage",
    "database",
    "cache",
    "bucket",
    "network",
    "firewall",
    "ingress",
    "load-balancer",
    "listener",
    "vm",
    "secret",
    "key",
    "certificate",
    "vpc",
    "log",
    "identity",
    "cluster",
    "node-pool",
    "supporting",
]

# Resource inputs -> (USD per month, the basis shown next to it).
Pricer = Callable[[Mapping[str, Any]], tuple[float, str]]
# (resource name, inputs) -> the outputs the provider computes that the program reads.
Outputs = Callable[[str, Mapping[str, Any]], dict[str, Any]]
# (type token, resource name) -> outputs the provider gives every resource it creates.
CommonOutputs = Callable[[str, str], dict[str, Any]]
# Invoke arguments -> its result.
Invoke = Callable[[dict[str, Any]], dict[str, Any]]

HOURS_PER_MONTH = 730
DEFAULT_SECONDS = 5.0
"""Creation time of a type nobody has timed: the critical path's estimate for it (and for unknown types)."""


@dataclass(frozen=True)
class Free:
    """The type costs nothing the plan can estimate; ``reason`` says why (shown to whoever reads the table)."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ResourceProfile:
    """Everything the offline plan needs about one type token. ``None`` means not profiled yet.

    Only ``planned`` types (ones a rule or coverage knows but no stack
    registers yet) may leave fields at ``None``; the provider profile test
    fails as soon as a stack registers a type with a field unset.
    """

    kind: Kind
    create_seconds: float | None  # typical creation time; DEFAULT_SECONDS where nobody has timed it
    price: Pricer | Free | None  # USD per month from the inputs, or Free with the reason
    outputs: Outputs | None  # what the mock runtime answers besides the inputs; no_outputs when nothing is read

    def unset(self) -> list[str]:
        """Names of the fields not profiled yet."""
        return [f.name for f in fields(self) if getattr(self, f.name) is None]


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One provider: its token prefix, its table of resource profiles and the invokes it answers."""

    name: str  # the token prefix: "aws" for "aws:rds/instance:Instance"
    resources: Mapping[str, ResourceProfile]
    invokes: Mapping[str, Invoke]
    common_outputs: CommonOutputs | None = None


def planned(kind: Kind) -> ResourceProfile:
    """A type the rules and coverage know but no shipped stack registers yet: only its kind is profiled."""
    return ResourceProfile(kind=kind, create_seconds=None, price=None, outputs=None)


def no_outputs(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The provider computes nothing the program reads: the mock answers with the inputs alone."""
    return {}


def fixed(usd: float, basis: str) -> Pricer:
    """A flat monthly price, whatever the inputs."""
    return lambda inputs: (usd, basis)


def fake_pem(kind: str, seed: str) -> str:
    """A PEM block of ``kind`` with a body derived from ``seed`` (stable across runs)."""
    body = base64.b64encode(hashlib.sha512(seed.encode()).digest() * 3).decode()
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def digest(seed: str, n: int = 32) -> str:
    """``n`` hex digits derived from ``seed`` (stable across runs)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:n]
