"""The coverage table against checkov and cdk-nag HIPAA (policy/equivalents.py, offline/policy_coverage.py).

The table must hold a row for every resource type a shipped stack creates,
name only rules that exist and judge that type, name only real checkov IDs
and cdk-nag rules that read the same kind of resource (checked against the
extracts of both tools' sources in tests/data/policy_coverage/), give every
check it does not enforce a reason, agree with the hand-written side-by-side
tables of docs/policy-kubernetes.md and docs/policy-gcp.md, and be written
out as generated.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from offline import policy_coverage
from policy.catalog import RULE_NAMES
from policy.equivalents import (
    COVERAGE,
    NOT_ENFORCED,
    ON_THIS_TYPE,
    SECTIONS,
    Equivalent,
    TypeCoverage,
    gap,
    trade_off,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "policy_coverage"
# The checkov framework whose checks apply to each section's resources.
FRAMEWORK = {"AWS": "terraform", "GCP": "terraform", "Docker host": "dockerfile", "Kubernetes": "kubernetes"}


def _tsv(name: str) -> list[list[str]]:
    lines = [line for line in (DATA / name).read_text().splitlines() if line and not line.startswith("#")]
    return [line.split("\t") for line in lines[1:]]  # the first is the header


CHECKOV = {(row[1], row[0]): set(row[2].split(",")) for row in _tsv("checkov_checks.tsv")}
CDK_NAG = {row[0]: set(row[2].split(",")) for row in _tsv("cdk_nag_hipaa_rules.tsv")}


def _rows() -> list[tuple[str, TypeCoverage]]:
    return [(title, row) for title, rows in SECTIONS for row in rows]


def _entries() -> list[tuple[str, TypeCoverage, str, Equivalent]]:
    out = []
    for title, row in _rows():
        out += [(title, row, "checkov", e) for e in row.checkov]
        out += [(title, row, "cdk-nag", e) for e in row.cdk_nag]
    return out


def _params() -> list[object]:
    return [
        pytest.param(*entry, id=f"{entry[1].resource_type.rsplit(':', 1)[-1]}-{entry[2]}-{entry[3].ids[0]}")
        for entry in _entries()
    ]


def shipped_types() -> dict[str, list[str]]:
    """Resource type -> the shipped stacks whose pinned inventory counts it."""
    types: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests" / "inventory").glob("*.yaml")):
        for resource_type in yaml.safe_load(path.read_text())["counts"]:
            types.setdefault(resource_type, []).append(path.stem)
    return types


def test_every_type_a_shipped_stack_creates_has_a_row() -> None:
    shipped = shipped_types()
    missing = {t: stacks for t, stacks in shipped.items() if t not in COVERAGE}
    assert not missing, (
        f"no row in policy/equivalents.py for {missing} (type: stacks); add a TypeCoverage with checkov's and "
        "cdk-nag's checks for it and run `make docs`"
    )
    stale = sorted(set(COVERAGE) - set(shipped))
    assert not stale, f"rows for types no shipped stack creates: {stale}; remove them from policy/equivalents.py"


def test_each_type_has_one_row_and_each_check_one_disposition_per_row() -> None:
    types = [row.resource_type for _, row in _rows()]
    assert len(types) == len(set(types))
    for _, row in _rows():
        for entries in (row.checkov, row.cdk_nag):
            ids = [i for e in entries for i in e.ids]
            assert len(ids) == len(set(ids)), f"{row.resource_type}: a check listed twice"


@pytest.mark.parametrize(("title", "row", "tool", "entry"), _params())
def test_named_rules_exist_and_covering_rules_judge_the_type(
    title: str, row: TypeCoverage, tool: str, entry: Equivalent
) -> None:
    for name in entry.rules:
        assert name in RULE_NAMES, f"{row.resource_type} {entry.ids}: no rule {name} in the catalogue"
        if entry.status in ON_THIS_TYPE:
            assert row.resource_type in RULE_NAMES[name].resource_types, (
                f"{row.resource_type} {entry.ids}: {name} does not judge this type ({entry.status}); mark it "
                "'elsewhere' with the reason, or name a rule that judges it"
            )
    if entry.status in NOT_ENFORCED:
        assert not entry.rules, f"{row.resource_type} {entry.ids}: a check not enforced names rules"
    else:
        assert entry.rules, f"{row.resource_type} {entry.ids}: {entry.status} without a rule"
    if entry.status != "covered":
        assert entry.why.strip(), f"{row.resource_type} {entry.ids}: {entry.status} needs a reason"


@pytest.mark.parametrize(("title", "row", "tool", "entry"), _params())
def test_external_ids_are_real_and_read_the_type(title: str, row: TypeCoverage, tool: str, entry: Equivalent) -> None:
    for check in entry.ids:
        if tool == "checkov":
            reads = CHECKOV.get((FRAMEWORK[title], check))
            assert reads is not None, f"{check} is not a checkov {FRAMEWORK[title]} check (tests/data/policy_coverage)"
            assert reads & set(row.checkov_types), f"{check} reads {reads}, not {row.resource_type}"
        else:
            assert title == "AWS", f"cdk-nag rule {check} on a {title} type"
            reads = CDK_NAG.get(check)
            assert reads is not None, f"{check} is not a cdk-nag HIPAA.Security rule (tests/data/policy_coverage)"
            assert reads & set(row.cdk_nag_types), f"{check} reads {reads}, not {row.resource_type}"


def test_the_extracts_hold_only_checks_the_table_uses() -> None:
    used_checkov = {(FRAMEWORK[t], i) for t, _, tool, e in _entries() if tool == "checkov" for i in e.ids}
    used_cdk_nag = {i for _, _, tool, e in _entries() if tool == "cdk-nag" for i in e.ids}
    assert set(CHECKOV) == used_checkov
    assert set(CDK_NAG) == used_cdk_nag
    assert all(name.startswith("HIPAA.Security-") for name in CDK_NAG)


def test_a_type_without_external_checks_says_why() -> None:
    for _, row in _rows():
        if not row.checkov and not row.cdk_nag:
            assert row.note.strip(), f"{row.resource_type}: no checks listed and no note saying why"


def test_the_documents_are_up_to_date() -> None:
    assert policy_coverage.main(["--check"]) == 0, "docs/policy-coverage.md or README.md is stale: run `make docs`"


def test_check_reports_a_stale_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc, readme = tmp_path / "policy-coverage.md", tmp_path / "README.md"
    readme.write_text(f"intro\n{policy_coverage.BEGIN}\nold table\n{policy_coverage.END}\nrest\n")
    doc.write_text("old")
    monkeypatch.setattr(policy_coverage, "DOC", doc)
    monkeypatch.setattr(policy_coverage, "README", readme)
    monkeypatch.setattr(policy_coverage, "ROOT", tmp_path)
    assert policy_coverage.main(["--check"]) == 1
    assert policy_coverage.main([]) == 0
    assert policy_coverage.main(["--check"]) == 0
    assert doc.read_text() == policy_coverage.render_doc()
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{policy_coverage.END}\nrest\n")
    assert "old table" not in text and "| AWS | " in text


def test_a_row_renders_rules_checks_and_reasons() -> None:
    row = TypeCoverage(
        "aws:kms/key:Key",
        ("aws_kms_key",),
        checkov=(
            Equivalent(("CKV_AWS_7",), "covered", ("aws-kms-rotation",)),
            gap("CKV_AWS_33", "no rule reads key policies"),
            trade_off("CKV_AWS_227", "an operator's stop"),
        ),
        gaps=("something without an ID",),
    )
    table = policy_coverage.section_table([row])
    line = next(line for line in table.splitlines() if line.startswith("| `aws:kms/key:Key`"))
    ours, checkov, cdk_nag, not_enforced = (c.strip() for c in line.strip("|").split("|")[1:])
    assert "`aws-kms-rotation`" in ours and "`aws-protect-stateful-prod`" in ours  # from the catalogue
    assert checkov == "CKV_AWS_7 → `aws-kms-rotation`"
    assert cdk_nag == "—"
    assert not_enforced.split("<br>") == [
        "CKV_AWS_33: **gap**, no rule reads key policies",
        "CKV_AWS_227: trade-off, an operator's stop",
        "**gap** (no external check): something without an ID",
    ]


def test_every_gap_is_listed_once_with_every_type() -> None:
    listed = policy_coverage.gaps()
    types: dict[tuple[str, str], set[str]] = {}
    for _, row, _, e in _entries():
        if e.status == "gap":
            types.setdefault((" ".join(e.ids), e.why), set()).add(row.resource_type)
    for _, row in _rows():
        for why in row.gaps:
            types.setdefault(("", why), set()).add(row.resource_type)
    assert len(listed) == len(types)
    # A gap shared by several types (one shared Equivalent) is one line naming every type.
    for (ids, why), where in types.items():
        (line,) = [item for item in listed if why in item and ids in item]
        assert all(f"`{t}`" in line for t in where), line
    assert f"{len(listed)} {'gap is' if len(listed) == 1 else 'gaps are'} listed" in policy_coverage.render_readme()


def _side_by_side(doc: str) -> list[tuple[list[str], list[str], str]]:
    """(checkov IDs, rules named, our-rule cell) of each table row of a doc's "Side by side with checkov" part."""
    text = (ROOT / "docs" / doc).read_text()
    part = text[text.index("## Side by side with checkov") :]
    part = part[: part.index("\n## ", 1)] if "\n## " in part[1:] else part
    out = []
    for line in part.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not line.startswith("| CKV") or len(cells) < 3:
            continue
        ids = [i.strip() for i in cells[0].split(",")]
        if not all(re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", i) for i in ids):
            continue  # shorthand ranges ("CKV_K8S_68 to 121") are not compared
        out.append((ids, re.findall(r"`([a-z0-9-]+)`", cells[2]), cells[2]))
    return out


@pytest.mark.parametrize("doc", ["policy-kubernetes.md", "policy-gcp.md"])
def test_the_hand_written_side_by_side_tables_agree(doc: str) -> None:
    # The table reuses those docs' judgement; this keeps the two from drifting apart.
    by_id: dict[str, list[Equivalent]] = {}
    for _, _, tool, e in _entries():
        if tool == "checkov":
            for i in e.ids:
                by_id.setdefault(i, []).append(e)
    compared = 0
    for ids, rules, cell in _side_by_side(doc):
        for check in ids:
            if check not in by_id:
                continue  # a check on a type no shipped stack creates (a Role, a Compute Engine instance)
            compared += 1
            entries = by_id[check]
            if rules:
                named = {r for e in entries for r in e.rules}
                assert set(rules) <= named, f"{doc}: {check} → {rules}; policy/equivalents.py says {named}"
            elif cell.startswith("not"):
                assert all(e.status in NOT_ENFORCED for e in entries), f"{doc}: {check} is not covered there"
    assert compared >= 20, f"{doc}: too few rows compared ({compared}); has the table's layout changed?"


def test_make_docs_writes_the_coverage() -> None:
    makefile = (ROOT / "Makefile").read_text()
    docs = makefile[makefile.index("\ndocs: venv\n") :].split("\n\n", 1)[0]
    assert "\t$(PY) -m offline.policy_coverage\n" in docs + "\n"
