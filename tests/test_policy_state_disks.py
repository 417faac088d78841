"""The state disks of ADR 0018 under the pack: the shipped prod stacks pass, a weakened copy of each fails.

The copies are the stacks' own registrations with one thing taken away (the backup selection, the vault
lock, ``protect``, the stack key, the snapshot schedule), reviewed as prod reviews them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from google.protobuf import json_format, struct_pb2

from offline.harness import Captured, ProgramRun, run_program
from offline.review import review

STATE_RULES = {
    "aws-ebs-in-backup-plan",
    "aws-backup-vault-locked",
    "aws-backup-plan-retention",
    "aws-protect-stateful-prod",
    "aws-cmk-in-prod",
    "gcp-disk-snapshot-schedule",
    "gcp-protect-stateful-prod",
}


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod")


@pytest.fixture(scope="module")
def prod_gcp() -> ProgramRun:
    return run_program("prod-gcp")


def findings(resources: list[Captured]) -> set[tuple[str, str]]:
    result = review(resources, environment="prod", enforcement="mandatory")
    return {(v.rule, v.resource_name) for v in result.mandatory if v.rule in STATE_RULES}


def weaken(run: ProgramRun, change: Callable[[Captured], Captured | None]) -> list[Captured]:
    """The run's resources with ``change`` applied to each (None drops it)."""
    return [r for r in (change(r) for r in run.resources) if r is not None]


def with_inputs(r: Captured, drop: str = "", **changes: object) -> Captured:
    """``r`` with input ``drop`` removed and ``changes`` set, in its inputs, outputs and the wire form resource
    rules read (``raw``), as if the program had registered it so."""
    inputs = {k: v for k, v in {**r.inputs, **changes}.items() if k != drop}
    outputs = {k: v for k, v in {**r.outputs, **changes}.items() if k != drop}
    raw = json_format.MessageToDict(r.raw)
    raw = {k: v for k, v in {**raw, **changes}.items() if k != drop}
    return dataclasses.replace(r, inputs=inputs, outputs=outputs, raw=json_format.ParseDict(raw, struct_pb2.Struct()))


def test_the_shipped_state_disks_pass(prod: ProgramRun, prod_gcp: ProgramRun) -> None:
    volumes = [r for r in prod.resources if r.type == "aws:ebs/volume:Volume"]
    disks = [r for r in prod_gcp.resources if r.type == "gcp:compute/disk:Disk"]
    assert len(volumes) == 3 and len(disks) == 3  # what the rules below judge is there
    assert findings(prod.resources) == set() and findings(prod_gcp.resources) == set()


def test_a_volume_without_its_backup_selection_fails(prod: ProgramRun) -> None:
    def drop(r: Captured) -> Captured | None:
        return None if r.name == "cogstack-nlp-state-backup" and r.type == "aws:backup/selection:Selection" else r

    assert findings(weaken(prod, drop)) == {("aws-ebs-in-backup-plan", "cogstack-nlp-state")}


def test_an_unlocked_unprotected_unkeyed_state_disk_fails(prod: ProgramRun) -> None:
    def strip(r: Captured) -> Captured | None:
        if r.type == "aws:backup/vaultLockConfiguration:VaultLockConfiguration" and r.name.startswith("therapy"):
            return None
        if r.name == "stenosis-detection-state":
            return dataclasses.replace(with_inputs(r, drop="kmsKeyId"), protect=False)
        if r.name == "stenosis-detection-state-backup" and r.type == "aws:backup/plan:Plan":
            rules = [{**rule, "lifecycle": {"deleteAfter": 7}} for rule in r.inputs["rules"]]
            return with_inputs(r, rules=rules)
        return r

    assert findings(weaken(prod, strip)) == {
        ("aws-backup-vault-locked", "therapy-compliance-state-vault"),
        ("aws-protect-stateful-prod", "stenosis-detection-state"),
        ("aws-cmk-in-prod", "stenosis-detection-state"),
        ("aws-backup-plan-retention", "stenosis-detection-state-backup"),
    }


def test_a_gcp_state_disk_without_its_schedule_or_protect_fails(prod_gcp: ProgramRun) -> None:
    def strip(r: Captured) -> Captured | None:
        if r.name == "cogstack-nlp-state" and r.type == "gcp:compute/disk:Disk":
            deps = [d for d in r.dependencies if "resourcePolicy" not in d]
            return dataclasses.replace(with_inputs(r, drop="resourcePolicies"), protect=False, dependencies=deps)
        return r

    assert findings(weaken(prod_gcp, strip)) == {
        ("gcp-disk-snapshot-schedule", "cogstack-nlp-state"),
        ("gcp-protect-stateful-prod", "cogstack-nlp-state"),
    }
