"""``make policy-config``: the engine's policy-pack config agrees with the offline plan for every rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from offline.harness import ROOT
from offline.plan import EXIT_CONFIG, EXIT_OK, make_plan
from offline.policy_config import FILE_NAME, load_config, main, policy_pack_config
from offline.report import catalogue
from offline.review import enforcement_for, review
from policy import ALL_POLICIES, context_from_args
from tests.test_plan import write_stack

SHIPPED = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
PACK_LEVEL = "mandatory"  # policy/__main__.py: PolicyPack(enforcement_level=EnforcementLevel.MANDATORY)
LEVELS = {"advisory", "mandatory", "disabled"}


def engine_level(policy: Any, config: dict[str, Any]) -> str:
    """The level the Pulumi engine runs ``policy`` at with this config file (ReconcilePolicyPackConfig, applyConfig).

    Default: the policy's own level, else the pack's; then the file's "all"; then the file's entry for the policy,
    either a bare level string or an object with "enforcementLevel".
    """
    declared = policy.enforcement_level
    resolved = declared.value if isinstance(declared, EnforcementLevel) else PACK_LEVEL
    for key in ("all", policy.name):
        entry = config.get(key)
        given = entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")
        if given:
            resolved = given
    return resolved


def stack_dirs(tmp_path: Path) -> list[tuple[str, Path]]:
    """Every shipped stack, and a local stack with strict and disabling overrides."""
    policy = {
        "enforcement": "mandatory",
        "overrides": {"docker-non-root": "mandatory", "docker-healthcheck": "disabled"},
    }
    write_stack(tmp_path, "strict", {"policy": policy})
    return [(name, ROOT) for name in SHIPPED] + [("strict", tmp_path)]


def test_every_rule_has_an_explicit_level_and_the_environment(tmp_path: Path) -> None:
    for stack, folder in stack_dirs(tmp_path):
        config = load_config(stack, folder)
        document = policy_pack_config(config)
        assert list(document) == [r.name for r in catalogue()], stack
        for entry in document.values():
            assert set(entry) == {"enforcementLevel", "environment", "dataClassification"}
            assert entry["enforcementLevel"] in LEVELS and entry["environment"] == config.environment
            assert entry["dataClassification"] == config.tags["dataClassification"]


def test_engine_and_offline_plan_enforce_the_same_level_for_every_rule(tmp_path: Path) -> None:
    assert {p.name for p in ALL_POLICIES} == {r.name for r in catalogue()}
    for stack, folder in stack_dirs(tmp_path):
        config = load_config(stack, folder)
        document = json.loads(json.dumps(policy_pack_config(config)))
        for policy in ALL_POLICIES:
            planned = enforcement_for(policy.name, config.enforcement, config.policy.overrides)
            assert engine_level(policy, document) == planned, (stack, policy.name)


def test_review_with_the_files_levels_reproduces_the_plans_review(tmp_path: Path) -> None:
    for stack, folder in stack_dirs(tmp_path):
        plan = make_plan(stack, folder)
        document = policy_pack_config(plan.config)
        levels = {name: entry["enforcementLevel"] for name, entry in document.items()}
        again = review(
            plan.run.resources,
            environment=plan.config.environment,
            overrides=levels,
            waivers=plan.config.policy.waivers,
            data_classification=document[next(iter(document))]["dataClassification"],
        )
        assert again.violations == plan.review.violations, stack
        assert again.rules_evaluated == plan.review.rules_evaluated


def test_strict_overrides_reach_the_file(tmp_path: Path) -> None:
    document = policy_pack_config(load_config("strict", stack_dirs(tmp_path)[-1][1]))
    assert document["docker-non-root"]["enforcementLevel"] == "mandatory"
    assert document["docker-healthcheck"]["enforcementLevel"] == "disabled"
    assert document["docker-proxy-tls12"]["enforcementLevel"] == "mandatory"
    local = policy_pack_config(load_config("local"))
    assert {e["enforcementLevel"] for e in local.values()} == {"advisory"}  # a local stack only warns


def test_policies_read_the_environment_from_the_file() -> None:
    entry = policy_pack_config(load_config("local"))["docker-non-root"]
    # The engine hands a policy its config entry without enforcementLevel; rules read it with args.get_config().
    properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    opts = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    args = ResourceValidationArgs("docker:index/container:Container", {}, "urn:x", "x", opts, None, config=properties)
    assert context_from_args(args).environment == "local"


def test_make_policy_config_writes_the_file_and_reports_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--stack", "local", "--out", str(out)]) == EXIT_OK
    written = json.loads((out / "local" / FILE_NAME).read_text())
    assert written == policy_pack_config(load_config("local"))
    assert f"--policy-pack-config {out / 'local' / FILE_NAME}" in capsys.readouterr().out
    write_stack(tmp_path, "typo", {"systems": ["cogstak-nlp"]})
    assert main(["--stack", "typo", "--stack-dir", str(tmp_path), "--out", str(out)]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        "Stack 'typo' has 1 config error(s); nothing was planned:",
        "  clinical-platform:systems[0]: unknown system 'cogstak-nlp'; did you mean 'cogstack-nlp'?",
    ]
    assert not (out / "typo").exists()
