"""Every shipped stack's resource inventory and rendered config files are pinned.

A change to what a stack creates, to a key value of a stateful resource or
network, or to any rendered config file fails here until it is regenerated
with ``make inventory`` and reviewed in the diff.
"""

from __future__ import annotations

import pytest

from offline.harness import ProgramRun, run_program
from offline.inventory import differences, inventory, rendered_files, shipped_stacks


@pytest.mark.parametrize("stack", shipped_stacks())
def test_the_stack_matches_its_pinned_inventory_and_golden_files(stack: str) -> None:
    found = differences(stack, run_program(stack))
    assert not found, "run `make inventory` if the change is intended:\n" + "\n".join(found)


def test_a_changed_key_value_or_file_is_reported(local_run: ProgramRun) -> None:
    assert differences("local", local_run) == []
    volume = next(r for r in local_run.resources if r.type == "docker:index/volume:Volume")
    volume.protect = not volume.protect
    try:
        assert differences("local", local_run) == ["tests/inventory/local.yaml: differs"]
    finally:
        volume.protect = not volume.protect


def test_secret_uploads_are_not_pinned(local_run: ProgramRun) -> None:
    files = rendered_files(local_run)
    assert any(path.endswith("nginx.conf") for path in files)
    assert not any(path.endswith((".key", ".htpasswd", ".crt")) for path in files), sorted(files)
    assert inventory(local_run)["counts"]["docker:index/container:Container"] >= 1
