"""Rule coverage: which of a stack's resource types have a rule in every family that applies to them.

A family *applies* to a resource type when the type can carry the risk the
family controls. That depends on what the resource is, so each type token
has a *kind* (in its provider profile, ``offline/providers/``), and each
kind lists its families here:

- ``workload`` (containers, VMs, pods): it listens, runs code and holds
  environment, so TLS, firewall, hardening, secrets and audit apply.
- ``image``: what workloads run, so hardening (pinning, provenance) applies.
- ``storage``, ``database``, ``cache``, ``bucket``: they hold PHI at rest, so
  encryption and data protection apply; services that answer on the network
  (databases, caches, buckets) add TLS, firewall and audit.
- ``vm`` (a cloud VM or its launch template): disks, exposure, hardening,
  secrets in user data and monitoring; TLS ends at the load balancer's
  listener, so it does not apply to the VM.
- ``network`` / ``firewall`` / ``ingress`` / ``load-balancer``: exposure, so
  firewall applies (load balancers add audit: access logs); ingresses and
  ``listener``s terminate TLS.
- ``secret`` (generated passwords, private keys, secret stores): secrets.
- ``key`` (KMS keys): encryption (rotation, customer-managed keys).
- ``certificate``: TLS (algorithm, validity).
- ``vpc``: firewall (exposure) and audit (flow logs); ``log``: encryption and
  retention; ``identity`` (roles, their policies): hardening (least privilege).
- ``cluster`` (a managed Kubernetes control plane: EKS, GKE): the API
  endpoint's exposure (firewall), Secrets encryption in etcd and control
  plane logs; ``node-pool`` (its managed nodes): exposure (SSH, public
  addresses) and hardening (metadata server, shielded boot).
- ``supporting``: a setting of another resource (a bucket's versioning, a
  route table, a KMS alias), judged together with that resource: no family.

Governance rules (tags, ownership) are stack-wide and are not counted. Only
types with at least one applicable family are counted. A type with no
provider profile is listed as *unclassified*, so a new resource type shows
up as a gap to classify instead of silently raising the share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from offline.providers import profile_for
from offline.providers.profile import Kind

FAMILIES_BY_KIND: dict[Kind, tuple[str, ...]] = {
    "workload": ("tls", "firewall", "hardening", "secrets", "audit"),
    "image": ("hardening",),
    "storage": ("encryption", "data-protection"),
    "database": ("tls", "encryption", "firewall", "data-protection", "audit"),
    "cache": ("tls", "encryption", "firewall", "data-protection"),
    "bucket": ("tls", "encryption", "firewall", "data-protection", "audit"),
    "network": ("firewall",),
    "firewall": ("firewall",),
    "ingress": ("tls", "firewall"),
    "load-balancer": ("firewall", "audit"),
    "listener": ("tls",),
    "vm": ("encryption", "firewall", "hardening", "secrets", "audit"),
    "secret": ("secrets",),
    "key": ("encryption",),
    "certificate": ("tls",),
    "vpc": ("firewall", "audit"),
    "log": ("encryption", "data-protection"),
    "identity": ("hardening",),
    "cluster": ("encryption", "firewall", "audit"),
    "node-pool": ("firewall", "hardening"),
    "supporting": (),
}


class FamilyRule(Protocol):
    """What coverage reads of a rule."""

    @property
    def family(self) -> str: ...
    @property
    def resource_types(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class TypeCoverage:
    """One resource type of the stack: which applicable families have a rule for it."""

    resource_type: str
    kind: str | None
    applicable: tuple[str, ...]
    covered: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Applicable families with no enabled rule for this type."""
        return tuple(f for f in self.applicable if f not in self.covered)

    @property
    def complete(self) -> bool:
        """True when every applicable family has at least one enabled rule for this type."""
        return self.kind is not None and bool(self.applicable) and not self.missing


@dataclass(frozen=True)
class Coverage:
    """Coverage of a stack's resource types by the enabled rules."""

    types: tuple[TypeCoverage, ...]

    @property
    def classified(self) -> list[TypeCoverage]:
        """Types with a kind and at least one applicable family (the denominator of the shares)."""
        return [t for t in self.types if t.kind is not None and t.applicable]

    @property
    def supporting(self) -> list[str]:
        """Type tokens that are settings of another resource, judged with it (not counted)."""
        return [t.resource_type for t in self.types if t.kind is not None and not t.applicable]

    @property
    def unclassified(self) -> list[str]:
        """Type tokens that have no kind yet."""
        return [t.resource_type for t in self.types if t.kind is None]

    @property
    def complete(self) -> int:
        """How many classified types have a rule in every applicable family."""
        return sum(1 for t in self.classified if t.complete)

    @property
    def share(self) -> float:
        """Share (0-1) of classified types covered in every applicable family."""
        return self.complete / len(self.classified) if self.classified else 1.0

    def by_family(self) -> dict[str, tuple[int, int]]:
        """family -> (types with a rule of that family, types the family applies to)."""
        out: dict[str, tuple[int, int]] = {}
        for family in sorted({f for t in self.types for f in t.applicable}):
            applies = [t for t in self.types if family in t.applicable]
            out[family] = (sum(1 for t in applies if family in t.covered), len(applies))
        return out


def coverage(resource_types: Iterable[str], rules: Iterable[FamilyRule]) -> Coverage:
    """Coverage of ``resource_types`` by ``rules`` (pass only the rules enabled on the stack)."""
    rules = list(rules)
    rows = []
    for rtype in sorted(set(resource_types)):
        profile = profile_for(rtype)
        kind = profile.kind if profile else None
        applicable = FAMILIES_BY_KIND.get(kind, ()) if kind else ()
        covered = tuple(f for f in applicable if any(r.family == f and rtype in r.resource_types for r in rules))
        rows.append(TypeCoverage(rtype, kind, applicable, covered))
    return Coverage(tuple(rows))
