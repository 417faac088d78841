"""Stable addressing: removing a system changes nothing of the others (networks, containers, volumes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from offline.harness import ROOT, ProgramRun, load_stack_file, run_program
from stacks import registry
from tests.conftest import problems, stack_config

REMOVED = "neurocore"


def _lab_without(system: str, tmp_path: Path) -> ProgramRun:
    document = yaml.safe_load((ROOT / "Pulumi.lab.yaml").read_text())
    config = document["config"]
    config["clinical-platform:systems"] = [s for s in config["clinical-platform:systems"] if s != system]
    config["clinical-platform:overrides"].pop(system, None)
    for key in [k for k in config if k.startswith(f"clinical-platform:{system}-")]:
        del config[key]
    (tmp_path / "Pulumi.lab.yaml").write_text(yaml.safe_dump(document))
    values, secret_keys = load_stack_file("lab", tmp_path)
    return run_program("lab", config=values, secret_keys=secret_keys)


def test_removing_a_system_changes_no_other_resource(tmp_path: Path) -> None:
    full, fewer = run_program("lab"), _lab_without(REMOVED, tmp_path)
    before = {(r.type, r.name): r.inputs for r in full.resources if r.custom}
    after = {(r.type, r.name): r.inputs for r in fewer.resources if r.custom}
    assert set(after) < set(before)
    assert {name for _, name in set(before) - set(after)} == {n for _, n in before if n.startswith(f"{REMOVED}-")}
    # The proxy's routes name every system, so it alone changes (and only its config).
    changed = sorted(name for key, inputs in after.items() if before[key] != inputs for name in [key[1]])
    assert changed == ["lab-proxy"], changed


def test_slots_are_unique_and_fit_the_default_range() -> None:
    slots = [registry.address_slot(name) for name in registry.SYSTEMS]
    assert len(set(slots)) == len(slots) and min(slots) == 1


def test_a_range_too_small_for_a_systems_slot_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = stack_config(systems=["cogstack-nlp"], network={"cidr": "192.168.10.0/24"})
    assert problems(raw) == []  # slot 1 fits a /24
    monkeypatch.setitem(registry._MODULES, "cogstack-nlp", ("stacks.cogstack_nlp", 6))
    assert problems(raw) == [
        "clinical-platform:network.cidr: 192.168.10.0/24 has room for address slots 1-5, but cogstack-nlp "
        "uses slot 6; use a /23 or larger (a /22 fits every system)"
    ]
