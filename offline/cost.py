"""Estimated monthly cost of a planned stack, from a price table in the code.

No maintained cost estimator reads Pulumi programs (testing-and-ci.md 5.2),
so each billable resource type has a pricer here: inputs -> USD per month
with the basis shown. Types without a pricer cost nothing (containers on a
hospital's own host, random values, certificates from a local CA).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from offline.harness import Captured
from offline.prices_aws import AWS_PRICERS

HOURS_PER_MONTH = 730

# type token -> (inputs -> (usd per month, basis)); clouds register theirs.
Pricer = Callable[[Mapping[str, Any]], tuple[float, str]]
PRICERS: dict[str, Pricer] = {**AWS_PRICERS}


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
    """Price every custom resource that has a pricer."""
    lines = []
    for record in resources:
        pricer = PRICERS.get(record.type)
        if record.custom and pricer:
            usd, basis = pricer(record.inputs)
            lines.append(CostLine(record.type, record.name, round(usd, 2), basis))
    return CostEstimate(sorted(lines, key=lambda line: -line.usd_per_month))
