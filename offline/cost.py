"""Estimated monthly cost of a planned stack, from a price table in the code.

No maintained cost estimator reads Pulumi programs (testing-and-ci.md 5.2),
so each billable resource type has a price function in its provider profile
(``offline/providers/``): inputs -> USD per month with the basis shown. Types
profiled as ``Free`` (containers on a hospital's own host, random values,
certificates from a local CA, settings of a priced resource) add no line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from offline.harness import Captured
from offline.providers import pricer_for


@dataclass(frozen=True)
class CostLine:
    """One billable resource."""

    resource_type: str
    resource_name: str
    usd_per_month: float
    basis: str


@dataclass
class CostEstimate:
    """Every billable resource and the total."""

    lines: list[CostLine]

    @property
    def total(self) -> float:
        """Total in USD per month."""
        return round(sum(line.usd_per_month for line in self.lines), 2)

    def by_type(self) -> dict[str, float]:
        """USD per month grouped by resource type."""
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.resource_type] = round(out.get(line.resource_type, 0.0) + line.usd_per_month, 2)
        return out


def estimate(resources: Iterable[Captured]) -> CostEstimate:
    """Price every custom resource whose profile has a price function."""
    lines = []
    for record in resources:
        pricer = pricer_for(record.type)
        if record.custom and pricer:
            usd, basis = pricer(record.inputs)
            lines.append(CostLine(record.type, record.name, round(usd, 2), basis))
    return CostEstimate(sorted(lines, key=lambda line: -line.usd_per_month))
