"""Estimated deployment critical path: the longest chain of creations in the dependency graph.

Durations are typical creation times per resource type, from each type's
provider profile (``offline/providers/``: Terraform apply logs for cloud
resources, testing-and-ci.md 5.3; measured ``docker`` operations for
containers); a type without one takes ``DEFAULT_SECONDS``. The engine
creates independent resources in parallel, so the stack takes about as long
as its longest chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from offline.harness import Captured
from offline.providers import profile_for
from offline.providers.profile import DEFAULT_SECONDS


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain, first resource first, with its total duration."""

    seconds: float
    chain: list[tuple[str, str, float]]  # (type, name, seconds)


def critical_path(resources: Iterable[Captured], durations: dict[str, float] | None = None) -> CriticalPath:
    """Longest path through the custom resources, following dependencies through components.

    ``durations`` (type token -> seconds) overrides the profiles' creation times.
    """
    overrides = durations or {}

    def seconds(type_token: str) -> float:
        if type_token in overrides:
            return overrides[type_token]
        profile = profile_for(type_token)
        measured = profile.create_seconds if profile else None
        return DEFAULT_SECONDS if measured is None else measured

    records = list(resources)
    by_urn = {r.urn: r for r in records}
    children: dict[str, list[str]] = {}
    for r in records:
        children.setdefault(r.parent, []).append(r.urn)

    def customs_under(urn: str) -> list[str]:
        record = by_urn.get(urn)
        if record is None:
            return []
        if record.custom:
            return [urn]
        return [c for child in children.get(urn, []) for c in customs_under(child)]

    deps: dict[str, set[str]] = {}
    for r in records:
        if r.custom:
            deps[r.urn] = {c for d in r.dependencies for c in customs_under(d) if c != r.urn}

    @cache
    def finish(urn: str) -> tuple[float, tuple[str, ...]]:
        own = seconds(by_urn[urn].type)
        best: tuple[float, tuple[str, ...]] = (0.0, ())
        for d in deps[urn]:
            candidate = finish(d)
            if candidate[0] > best[0]:
                best = candidate
        return best[0] + own, (*best[1], urn)

    if not deps:
        return CriticalPath(0.0, [])
    total, chain = max((finish(u) for u in deps), key=lambda t: t[0])
    return CriticalPath(
        round(total, 1),
        [(by_urn[u].type, by_urn[u].name, seconds(by_urn[u].type)) for u in chain],
    )
