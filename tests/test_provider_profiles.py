"""Provider profiles (offline/providers/): every type and invoke of every shipped stack is profiled in full.

Coverage, the critical path, the cost estimate and the mock runtime read
only the profiles, so a type missing here would silently be unclassified,
take the default creation time, cost nothing and answer no outputs. These
tests make it fail instead.
"""

from __future__ import annotations

from typing import get_args

import pulumi
import pytest

from offline.coverage import FAMILIES_BY_KIND
from offline.harness import run_under_mocks
from offline.plan import Plan
from offline.providers import INVOKES, PROVIDERS, RESOURCES, missing
from offline.providers.profile import Free, Kind, planned

FABRICATED = "aws:fabricated/widget:Widget"


def registered_types(plans: dict[str, Plan]) -> set[str]:
    """Every custom resource type any shipped stack registers."""
    return {r.type for plan in plans.values() for r in plan.run.resources if r.custom}


def test_every_registered_type_has_a_complete_profile(shipped_plans: dict[str, Plan]) -> None:
    types = registered_types(shipped_plans)
    assert {"docker", "random", "tls", "aws"} <= {t.split(":", 1)[0] for t in types}  # it saw every shipped provider
    assert missing(types) == []


def test_every_invoke_the_program_calls_is_profiled(shipped_plans: dict[str, Plan]) -> None:
    invoked = {token for plan in shipped_plans.values() for token in plan.run.invoked}
    assert "aws:index/getCallerIdentity:getCallerIdentity" in invoked, "no stack invoked anything: nothing was checked"
    assert missing((), invoked) == []


def test_a_fabricated_type_or_invoke_without_a_profile_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert missing([FABRICATED]) == [f"{FABRICATED}: no profile in offline/providers/aws.py"]
    monkeypatch.setitem(RESOURCES, FABRICATED, planned("vm"))  # a kind alone is not a profile of a registered type
    assert missing([FABRICATED]) == [f"{FABRICATED}: profile has no create_seconds, price, outputs"]
    token = "aws:index/getFabricated:getFabricated"
    assert missing((), [token]) == [f"{token}: invoke not answered by offline/providers/aws.py"]


def test_a_program_registering_a_fabricated_type_fails_the_check() -> None:
    run = run_under_mocks(lambda: pulumi.CustomResource(FABRICATED, "widget", {"size": 1}))
    assert [r.type for r in run.resources if r.custom] == [FABRICATED]
    assert missing(r.type for r in run.resources) == [f"{FABRICATED}: no profile in offline/providers/aws.py"]


def test_a_forgotten_profile_of_a_shipped_type_is_caught(
    shipped_plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(RESOURCES, "aws:kms/alias:Alias")
    assert missing(registered_types(shipped_plans)) == ["aws:kms/alias:Alias: no profile in offline/providers/aws.py"]


def test_each_provider_module_profiles_only_its_own_tokens() -> None:
    for name, provider in PROVIDERS.items():
        assert all(t.startswith(f"{name}:") for t in (*provider.resources, *provider.invokes)), name
    assert len(RESOURCES) == sum(len(p.resources) for p in PROVIDERS.values()), "a token is in two provider modules"
    assert len(INVOKES) == sum(len(p.invokes) for p in PROVIDERS.values()), "an invoke is in two provider modules"


def test_profiles_are_well_formed() -> None:
    assert set(FAMILIES_BY_KIND) == set(get_args(Kind)), "every kind needs its families in offline/coverage.py"
    for token, profile in RESOURCES.items():
        if isinstance(profile.price, Free):
            assert profile.price.reason.strip(), f"{token}: say why it is free"
        if profile.create_seconds is not None:
            assert profile.create_seconds > 0, token
