"""Shared helpers: stack configs as the engine passes them, and runs under the mock runtime."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from components.specs import SystemSpec
from offline.harness import ROOT, Captured, ProgramRun, run_program
from offline.plan import Plan, make_plan
from stacks.config import ConfigError, StackConfig, parse_stack_config

SHIPPED_STACKS = tuple(sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")))

BASE: dict[str, Any] = {
    "environment": "dev",
    "cloud": "onprem",
    "runtime": "docker",
    "domain": "clinical.example.org",
    "systems": ["cogstack-nlp"],
    "tags": {"owner": "platform@hospital.example", "dataClassification": "phi"},
    # phi: archives must leave the host (a cluster's tests set backup.storageClass instead).
    "backup": {"target": "/mnt/backups"},
    # A PHI stack needs an alert receiver; an internal relay without login needs no secret.
    "alerting": {
        "email": {
            "to": ["oncall@hospital.example"],
            "from": "alertmanager@hospital.example",
            "smarthost": "smtp.hospital.example:587",
        }
    },
}


def stack_config(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced (a value of None removes the key)."""
    raw = {**BASE, **changes}
    return {k: v for k, v in raw.items() if v is not None}


def engine_config(raw: dict[str, Any]) -> dict[str, str]:
    """Fully-qualified keys with JSON strings for structured values, as the language host passes them."""
    return {f"clinical-platform:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def problems(raw: dict[str, Any], secret_keys: Iterable[str] = (), stack: str = "dev") -> list[str]:
    """The config error lines for ``raw`` (empty when valid)."""
    try:
        parse_stack_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}, set(secret_keys), stack
        )
    except ConfigError as exc:
        return exc.problems
    return []


def parse(raw: dict[str, Any], secret_keys: Iterable[str] = (), stack: str = "dev") -> StackConfig:
    """A valid StackConfig (fails the test with the problems otherwise)."""
    found = problems(raw, secret_keys, stack)
    assert not found, found
    return parse_stack_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}, set(secret_keys), stack
    )


def run_stack(raw: dict[str, Any], secret_keys: Iterable[str] = (), stack: str = "dev") -> ProgramRun:
    """Run the real __main__.py with ``raw`` as the stack's config."""
    return run_program(stack, config=engine_config(raw), secret_keys={f"clinical-platform:{k}" for k in secret_keys})


def of_type(run: ProgramRun, type_token: str) -> list[Captured]:
    """Registered resources of one type."""
    return [r for r in run.resources if r.type == type_token]


def named(run: ProgramRun, name: str, custom: bool = True) -> Captured:
    """The registered custom resource (or component) called ``name``."""
    matches = [r for r in run.resources if r.name == name and r.custom == custom]
    assert len(matches) == 1, f"{name}: {len(matches)} matches among {[r.name for r in run.resources]}"
    return matches[0]


@pytest.fixture(scope="session")
def local_run() -> ProgramRun:
    """The shipped local stack, run once per session."""
    return run_program("local")


@pytest.fixture(scope="session")
def shipped_plans() -> dict[str, Plan]:
    """The offline plan of every shipped stack (each ``Pulumi.<stack>.yaml``), made once per session."""
    return {stack: make_plan(stack) for stack in SHIPPED_STACKS}


def monitored_spec(name: str, config: Any) -> SystemSpec:
    """A system's spec as the platform monitors it, without the backup services (tests/test_backups.py covers
    those): the module's spec with overrides, then the monitoring derived from its services."""
    from stacks import registry

    return registry.monitored(registry.system_spec(name, config), name, config)
