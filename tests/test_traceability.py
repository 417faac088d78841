"""Traceability to the guides: every guide element has a row, every row and source points at something the system
deploys, every value passed to an image has a source, quotes are the guide's own words, and the pages are current."""

from __future__ import annotations

import dataclasses

import pytest

from components.specs import SystemSpec
from offline import traceability
from stacks.registry import SYSTEMS
from stacks.trace import (
    MODULES,
    Element,
    Row,
    Source,
    Trace,
    load,
    problems,
    resolve,
    sourced_pointers,
    spec_pointers,
    unsourced,
)

GUIDES_PRESENT = traceability.GUIDES.is_dir()


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Trace, SystemSpec]]:
    """Each system's trace and its spec in the reference stack."""
    return {name: (load(name), traceability.reference_spec(load(name))) for name in MODULES}


def test_every_system_has_a_trace() -> None:
    assert set(MODULES) == set(SYSTEMS)
    for name in MODULES:
        assert load(name).system == name


@pytest.mark.parametrize("system", sorted(MODULES))
def test_trace_is_sound_against_the_built_spec(system: str, built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built[system]
    assert problems(trace, spec) == []


@pytest.mark.skipif(not GUIDES_PRESENT, reason="the guides are not checked out beside the repository")
@pytest.mark.parametrize("system", sorted(MODULES))
def test_quotes_are_the_guides_own_words(system: str, built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built[system]
    assert problems(trace, spec, traceability.guide_text(trace)) == []


def test_an_element_without_a_row_fails(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built["therapy-compliance"]
    extra = Element("read-replicas-2", "Horizontal Scaling", "**Read Replicas**")
    broken = dataclasses.replace(trace, elements=(*trace.elements, extra))
    assert problems(broken, spec) == ["therapy-compliance: guide element 'read-replicas-2' has no row"]


def test_a_row_pointing_at_nothing_fails(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built["therapy-compliance"]
    rows = tuple(
        dataclasses.replace(r, deploys=("services.api.env.DATABASE_POOL_SIZE",)) if r.id == "config-yaml" else r
        for r in trace.rows
    )
    found = problems(dataclasses.replace(trace, rows=rows), spec)
    assert (
        "therapy-compliance: row 'config-yaml' points at services.api.env.DATABASE_POOL_SIZE, "
        "which the built spec does not have" in found
    )


def test_statuses_need_their_reason(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built["therapy-compliance"]
    rows = (
        *trace.rows[2:],
        Row(trace.rows[0].id, "service", "missing", (), "not yet"),
        Row(trace.rows[1].id, "size", "deviates", ()),
    )
    found = problems(dataclasses.replace(trace, rows=rows), spec)
    assert "therapy-compliance: row 'api-server' is missing but names no issue that covers it" in found
    assert "therapy-compliance: row 'api-workers' is 'deviates' but points at nothing deployed" in found
    assert "therapy-compliance: row 'api-workers' is 'deviates' without a reason" in found


def test_a_value_without_a_source_fails(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built["therapy-compliance"]
    api = spec.service("api")
    invented = api.model_copy(update={"env": {**api.env, "ALERT_MEMORY_USAGE": "0.85"}})
    changed = spec.model_copy(update={"services": (invented,)})
    assert unsourced(trace, changed) == ["services.api.env.ALERT_MEMORY_USAGE"]
    # A source whose value is gone is stale and fails too.
    stale = dataclasses.replace(trace, sources=(*trace.sources, Source("services.api.env.GONE", "platform choice")))
    assert "therapy-compliance: source for services.api.env.GONE points at nothing in the built spec" in problems(
        stale, spec
    )


def test_a_misquoted_guide_fails(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    trace, spec = built["neurocore"]
    elements = tuple(
        dataclasses.replace(e, quote='user: "1000:1000"') if e.id == "non-root" else e for e in trace.elements
    )
    found = problems(dataclasses.replace(trace, elements=elements), spec, "Security Hardening: non-root containers")
    assert "neurocore: element 'non-root' quotes text the guide does not contain: 'user: \"1000:1000\"'" in found


def test_pointers_name_spec_parts_and_wildcards_match_several(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    _, spec = built["claims-agent"]
    pointers = spec_pointers(spec)
    assert "services.api.env.NCB_API_KEY" in pointers and "services.api.port" in pointers
    assert {"services.worker.command", "services.worker.resources", "services.worker.volumes.models"} <= (
        sourced_pointers(spec)
    )
    assert resolve("services.[apw]*.env.OCR_*", pointers) == [
        f"services.{svc}.env.{key}"
        for svc in ("api", "poller", "worker")
        for key in ("OCR_BATCH_SIZE", "OCR_HIGH_CONFIDENCE_THRESHOLD", "OCR_USE_GPU")
    ]


def test_values_no_source_names_are_not_passed(built: dict[str, tuple[Trace, SystemSpec]]) -> None:
    _, stenosis = built["stenosis-detection"]
    assert "STORAGE_BACKEND" not in stenosis.service("backend").env
    _, therapy = built["therapy-compliance"]
    assert not [k for k in therapy.service("api").env if k.startswith(("ALERT_", "DATABASE_POOL", "SESSION_"))]


@pytest.mark.parametrize("system", sorted(MODULES))
def test_generated_pages_are_up_to_date(system: str) -> None:
    page = traceability.page(system).read_text(encoding="utf-8")
    assert traceability.BEGIN in page and traceability.END in page
    assert page == traceability.rendered_page(system), "run `make docs`"


def test_page_lists_every_row_with_its_status() -> None:
    trace = load("cogstack-nlp")
    page = traceability.page("cogstack-nlp").read_text(encoding="utf-8")
    for row in trace.rows:
        assert f"| `{row.id}` |" in page
    assert (
        "| `port-trainer` | Network Ports: `\\| MedCAT Trainer \\| 8001 \\| HTTP \\| Web UI \\|` | port | deviates |"
        in page
    )
