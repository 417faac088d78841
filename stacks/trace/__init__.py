"""Traceability of each clinical system to its deployment guide, as data the tests check against the built spec.

A system's trace (``stacks/trace/<module>.py``) holds three tables:

- ``ELEMENTS``: the deployable elements of its guide (services, ports, variables, volumes, sizes, jobs,
  monitoring, security controls, backups, alerts), each with the guide's section and a short verbatim quote;
- ``ROWS``: for each element, what the platform deploys (pointers into the built ``SystemSpec``) and a status;
- ``SOURCES``: where every other value the system passes to an image comes from: the upstream source of a
  public image at its pinned tag, or a platform choice with its reason.

A pointer names a part of a ``SystemSpec``: ``services.<svc>.<field>[.<key>]`` (``env.<NAME>``,
``volumes.<name>``, ``files.<path>``, ``port``, ``user``, ``command``, ``resources``, ``gpu``, ``replicas``,
``health``, ``host_mounts``), or ``postgres.<name>``, ``redis.<name>``, ``buckets.<name>``, ``routes.<name>``,
``secrets.<name>`` (optionally ``.<field>``). Shell-style wildcards (``services.*.env.DB_*``) match several.
``offline/traceability.py`` renders the matrix into ``docs/systems/<system>.md``; ``tests/test_traceability.py``
proves every pointer resolves and every value has a source.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from typing import Any, Literal

from components.specs import SystemSpec

Kind = Literal[
    "service", "port", "variable", "volume", "size", "job", "monitoring", "security", "backup", "alert", "config"
]
# match: as the guide says. improved: the guide's intent, done more safely or completely (the note says how).
# deviates: different on purpose (the note says why). not-applicable: nothing to deploy (the note says why).
# missing: not deployed yet (the note names the issue that covers it).
Status = Literal["match", "improved", "deviates", "not-applicable", "missing"]
STATUSES: tuple[str, ...] = ("match", "improved", "deviates", "not-applicable", "missing")
# The trace module of each system, by system name.
MODULES = {
    "cogstack-nlp": "stacks.trace.cogstack_nlp",
    "stenosis-detection": "stacks.trace.stenosis_detection",
    "neurocore": "stacks.trace.neurocore",
    "claims-agent": "stacks.trace.claims_agent",
    "therapy-compliance": "stacks.trace.therapy_compliance",
}
# Parts of a service whose every value must have a source (a matrix row or a SOURCES entry).
SOURCED_PARTS = ("env", "port", "user", "volumes", "command", "resources")


@dataclass(frozen=True)
class Element:
    """One deployable element of a guide: an id, the guide's section and a short verbatim quote of it."""

    id: str
    section: str
    quote: str


@dataclass(frozen=True)
class Row:
    """What the platform does with one guide element.

    ``deploys`` are pointers into the built spec (empty only for not-applicable and missing rows); ``note``
    gives the reason of an improvement, deviation, not-applicable or missing status, and, where the guide
    contradicts itself, which reading was taken and why.
    """

    id: str
    kind: Kind
    status: Status
    deploys: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Source:
    """Where values not taken from the guide come from: ``upstream <repo>@<tag> <file>`` or ``platform choice: why``."""

    pointer: str
    source: str


@dataclass(frozen=True)
class Trace:
    """A system's guide elements, matrix rows and other sources, and the reference stack they are checked on."""

    system: str
    guide: str
    elements: tuple[Element, ...]
    rows: tuple[Row, ...]
    sources: tuple[Source, ...]
    # Settings merged into the reference stack's (``lab``) so optional parts that rows point at are built.
    reference_settings: dict[str, Any]

    def row(self, element_id: str) -> Row | None:
        """The row of ``element_id``, if any."""
        return next((r for r in self.rows if r.id == element_id), None)


# Services the platform adds to every system's spec after the module builds it (stacks/registry.build): their
# values come from the component that adds them, the same for every system, never from a guide.
PLATFORM_SOURCES: tuple[Source, ...] = (
    Source(
        "services.backup*",
        "platform: components/backups.py and backup_scripts.py (pg_dump -Fc, Redis RDB, tar of the volume owner's "
        "volumes read-only as its uid; openssl with the system's backup key; metrics on 9199) in the system's "
        "newest official postgres image, for the guides' daily backups",
    ),
    Source(
        "services.alertmanager*",
        "platform: stacks/alerts/alertmanager.py; upstream prom/alertmanager@v0.27.0 Dockerfile (USER nobody, "
        "EXPOSE 9093, --storage.path /alertmanager); receivers from the stack's alerting section",
    ),
    Source(
        "services.blackbox-exporter*",
        "platform: stacks/alerts/probes.py; upstream prom/blackbox-exporter@v0.25.0 Dockerfile (USER nobody, "
        "EXPOSE 9115); targets are the services' own health checks and the routes' certificates",
    ),
    Source(
        "services.node-exporter*",
        "platform: stacks/alerts/host.py; upstream prom/node-exporter@v1.8.2 Dockerfile (USER nobody, EXPOSE 9100), "
        "the host's root file system read-only for the disk alerts",
    ),
    Source(
        "services.gpu-exporter*",
        "platform: stacks/alerts/gpu.py; upstream utkuozdemir/nvidia_gpu_exporter@v1.4.1 Dockerfile (ubuntu:24.04, "
        "no USER: run as nobody, EXPOSE 9835), every GPU of the host with the utility capability (observes_gpus) "
        "for the GPU memory alerts",
    ),
    Source(
        "services.prometheus*",
        "platform: stacks/alerts (prometheus.yml derived from the final spec) and stacks/monitoring.py; upstream "
        "prometheus/prometheus@v2.55.1 Dockerfile (USER nobody, EXPOSE 9090, VOLUME /prometheus)",
    ),
    Source(
        "services.model-pack*",
        "platform: components/model_packs.py; upstream curlimages/curl@8.11.1 Dockerfile (USER curl_user 100:101)",
    ),
    Source(
        "services.*-setup*",
        "platform: components/database_setup.py and database_roles.py (managed PostgreSQL: roles and extensions as "
        "the master user); upstream docker-library/postgres "
        "Dockerfile (postgres uid 999, psql, docker-entrypoint.sh execs other commands)",
    ),
)


def load(system: str) -> Trace:
    """The trace of ``system``."""
    trace: Trace = importlib.import_module(MODULES[system]).TRACE
    return trace


def spec_pointers(spec: SystemSpec) -> set[str]:
    """Every concrete pointer of ``spec``: the parts of its services, and its stores, routes and secrets."""
    found: set[str] = set()
    for svc in spec.services:
        base = f"services.{svc.name}"
        found |= {base, f"{base}.user", f"{base}.resources", f"{base}.replicas"}
        found |= {
            f"{base}.{part}"
            for part in ("port", "command", "gpu", "health", "metrics_path")
            if getattr(svc, part) is not None
        }
        found |= {f"{base}.env.{key}" for key in svc.env}
        found |= {f"{base}.volumes.{v.name}" for v in svc.volumes}
        found |= {f"{base}.files.{f.path}" for f in svc.files}
        found |= {f"{base}.host_mounts.{m.host_path}" for m in svc.host_mounts}
    for group in ("postgres", "redis", "buckets", "routes", "secrets"):
        for item in getattr(spec, group):
            found.add(f"{group}.{item.name}")
            found |= {f"{group}.{item.name}.{field}" for field in type(item).model_fields if field != "name"}
    return found


def resolve(pointer: str, pointers: set[str]) -> list[str]:
    """The concrete pointers ``pointer`` (maybe a wildcard) names among ``pointers``."""
    return sorted(p for p in pointers if fnmatch.fnmatchcase(p, pointer))


def sourced_pointers(spec: SystemSpec) -> set[str]:
    """The values of ``spec`` that need a source: every env variable, port, user, volume, command and size of every
    service."""
    return {
        p
        for p in spec_pointers(spec)
        if p.startswith("services.") and p.count(".") >= 2 and p.split(".", 3)[2] in SOURCED_PARTS
    }


def unsourced(trace: Trace, spec: SystemSpec) -> list[str]:
    """Values of ``spec`` that no matrix row nor SOURCES entry covers."""
    patterns = [p for r in trace.rows for p in r.deploys] + [s.pointer for s in (*trace.sources, *PLATFORM_SOURCES)]
    return sorted(p for p in sourced_pointers(spec) if not any(fnmatch.fnmatchcase(p, pat) for pat in patterns))


def problems(trace: Trace, spec: SystemSpec, guide_text: str | None = None) -> list[str]:
    """Everything wrong with ``trace`` against the built ``spec`` (and the guide's text, when given); empty if sound."""
    found: list[str] = []
    pointers = spec_pointers(spec)
    element_ids = [e.id for e in trace.elements]
    row_ids = [r.id for r in trace.rows]
    for dupes, what in ((element_ids, "element"), (row_ids, "row")):
        found += [
            f"{trace.system}: {what} '{i}' appears twice" for i in sorted({i for i in dupes if dupes.count(i) > 1})
        ]
    found += [f"{trace.system}: guide element '{i}' has no row" for i in element_ids if i not in row_ids]
    found += [f"{trace.system}: row '{i}' is no guide element" for i in row_ids if i not in element_ids]
    if guide_text is not None:
        flat = " ".join(guide_text.split())
        found += [
            f"{trace.system}: element '{e.id}' quotes text the guide does not contain: {e.quote!r}"
            for e in trace.elements
            if " ".join(e.quote.split()) not in flat
        ]
    for row in trace.rows:
        if row.status not in STATUSES:
            found.append(f"{trace.system}: row '{row.id}' has unknown status '{row.status}'")
        if row.status in ("match", "improved", "deviates") and not row.deploys:
            found.append(f"{trace.system}: row '{row.id}' is '{row.status}' but points at nothing deployed")
        if row.status != "match" and not row.note:
            found.append(f"{trace.system}: row '{row.id}' is '{row.status}' without a reason")
        if row.status == "missing" and "issue" not in row.note:
            found.append(f"{trace.system}: row '{row.id}' is missing but names no issue that covers it")
        found += [
            f"{trace.system}: row '{row.id}' points at {p}, which the built spec does not have"
            for p in row.deploys
            if not resolve(p, pointers)
        ]
    found += [
        f"{trace.system}: source for {s.pointer} points at nothing in the built spec"
        for s in trace.sources
        if not resolve(s.pointer, pointers)
    ]
    found += [f"{trace.system}: {p} has no source (no matrix row, no SOURCES entry)" for p in unsourced(trace, spec)]
    return found
