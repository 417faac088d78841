"""Who talks to whom inside a system, derived from its spec, for the namespace's network policies.

A service reaches another when its environment, files or command name that
service as a host (``http://api:8000``, a Prometheus target, an nginx
upstream) or use one of its data stores' placeholders. Everything else is
denied by the namespace's default-deny policy: the same promise as the
Docker runtime's per-system networks, narrowed to the edges that exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from components.specs import ServiceSpec, SystemSpec, placeholders

MINIO_SERVICE = "minio"


@dataclass(frozen=True)
class Peer:
    """A destination inside the namespace: the pods of ``service`` on ``port``."""

    service: str
    port: int


def _texts(svc: ServiceSpec) -> list[str]:
    return [
        *svc.env.values(),
        *(f.content for f in svc.files),
        *(svc.command or ()),
        *(svc.entrypoint or ()),
        *svc.probe_targets,
    ]


def store_ports(spec: SystemSpec) -> dict[tuple[str, str], Peer]:
    """Each data store placeholder (kind, name) -> the in-cluster service that serves it."""
    ports: dict[tuple[str, str], Peer] = {}
    for pg in spec.postgres:
        ports[("postgres", pg.name)] = Peer(pg.name, 5432)
    for rd in spec.redis:
        ports[("redis", rd.name)] = Peer(rd.name, 6379)
    for bucket in spec.buckets:
        ports[("bucket", bucket.name)] = Peer(MINIO_SERVICE, 9000)
    return ports


def used_stores(svc: ServiceSpec) -> set[tuple[str, str]]:
    """The data stores (kind, name) a service's placeholders reference."""
    return {
        (kind, name)
        for text in _texts(svc)
        for kind, name, _ in placeholders(text)
        if name and kind in {"postgres", "redis", "bucket"}
    }


def service_peers(spec: SystemSpec, extra_ports: Mapping[str, int] | None = None) -> dict[str, set[Peer]]:
    """For each service, the services (and in-cluster stores) it connects to."""
    listening = {s.name: s.port for s in spec.services if s.port is not None and s.replicas > 0}
    listening.update(extra_ports or {})
    # A separate metrics listener (scraped by Prometheus) is reached through the same name.
    metrics = {s.name: s.metrics_port for s in spec.services if s.metrics_port is not None and s.replicas > 0}
    stores = store_ports(spec)
    peers: dict[str, set[Peer]] = {}
    for svc in spec.services:
        found: set[Peer] = set()
        # A backup service's programs are text full of words like "db" and "redis": it reaches only the stores
        # its placeholders name (components/backups.py), never a host its scripts happen to spell.
        text = "" if svc.backup_target is not None else "\n".join(_texts(svc))
        for other, port in listening.items():
            if other == svc.name:
                continue
            # A host name: not part of a longer name or a path segment's neighbour word.
            if re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(other)}(?![A-Za-z0-9_-])", text):
                found.add(Peer(other, port))
                if other in metrics:
                    found.add(Peer(other, metrics[other]))
        found |= {stores[u] for u in used_stores(svc) if u in stores}
        peers[svc.name] = found
    return peers
