"""``make policy-config``: the engine's policy-pack config agrees with the offline plan for every rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

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
            assert set(entry) == {"enforcementLevel", "environment", "dataClassification", "waivers"}
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


# --- waivers in the pack's config: the rules apply them themselves ------------------------------------------------


def engine_findings(stack: str, folder: Path, document: dict[str, Any]) -> tuple[set[tuple[str, str, str]], set]:
    """Every policy of the pack run the way the engine runs it with ``document`` as --policy-pack-config: each
    gets its entry minus enforcementLevel (args.get_config()), resource policies per resource, stack policies
    once. (rule, resource, level) of what is reported, and what waivers covered."""
    from google.protobuf import json_format
    from pulumi_policy import PolicyResource as EnginePolicyResource
    from pulumi_policy import StackValidationArgs
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    from offline.review import _engine_unknowns, _options
    from policy import waivers

    def outputs(r: Any) -> Any:  # as AnalyzeStack sends them: secrets unwrapped, unknowns as the engine's sentinel
        return unknown_checking_proxy(deserialize_properties(_engine_unknowns(dict(r.outputs or r.inputs))))

    plan = make_plan(stack, folder)
    customs = [r for r in plan.run.resources if r.custom]
    waivers.WAIVED.clear()
    found: set[tuple[str, str, str]] = set()
    names = {r.urn: r.name for r in customs}
    for policy in ALL_POLICIES:
        level = engine_level(policy, document)
        if level == "disabled":
            continue
        config = {k: v for k, v in document[policy.name].items() if k != "enforcementLevel"}

        def report(message: str, urn: str | None = None, level: str = level, name: str = policy.name) -> None:
            found.add((name, names.get(urn or "", ""), level))

        if isinstance(policy, ResourceValidationPolicy):
            for r in customs:
                props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(r.raw)))
                args = ResourceValidationArgs(r.type, props, r.urn, r.name, _options(r), None, config=config)
                policy.validate(args, report)
        else:
            resources = [
                EnginePolicyResource(r.type, outputs(r), r.urn, r.name, _options(r), None, None, [], {})
                for r in customs
            ]
            by_urn = {res.urn: res for res in resources}
            for r, res in zip(customs, resources, strict=True):
                res.dependencies = [by_urn[d] for d in r.dependencies if d in by_urn]
            policy.validate(StackValidationArgs(resources, config=config), report)
    waived = {(w.rule, w.resource_name) for w in waivers.WAIVED}
    waivers.WAIVED.clear()
    return found, waived


def strict_local(tmp_path: Path, expires: str) -> Path:
    """The issue's case: local with enforcement mandatory and docker-non-root made mandatory, its waiver expiring."""
    waiver = {
        "rule": "docker-non-root",
        "resource": "cogstack-nlp-*trainer*",
        "reason": "The Trainer image writes under /home/api as its default user at start-up.",
        "approvedBy": "security-officer@hospital.example",
        "expires": expires,
    }
    policy = {"enforcement": "mandatory", "overrides": {"docker-non-root": "mandatory"}, "waivers": [waiver]}
    tmp_path.mkdir(parents=True, exist_ok=True)
    return write_stack(tmp_path, "strict", {"policy": policy})


def test_the_pack_skips_a_waived_mandatory_finding_until_its_waiver_expires(tmp_path: Path) -> None:
    folder = strict_local(tmp_path / "active", "2099-12-31")
    document = json.loads(json.dumps(policy_pack_config(load_config("strict", folder))))
    assert document["docker-non-root"]["waivers"] == [
        {
            "resource": "cogstack-nlp-*trainer*",
            "approvedBy": "security-officer@hospital.example",
            "expires": "2099-12-31",
            "reason": "The Trainer image writes under /home/api as its default user at start-up.",
        }
    ]
    assert document["docker-healthcheck"]["waivers"] == []  # only the rule's own waivers
    found, waived = engine_findings("strict", folder, document)
    # Waived: the two Trainer containers pass under the engine, and the rule says why (WAIVED).
    assert waived == {
        ("docker-non-root", "cogstack-nlp-medcat-trainer"),
        ("docker-non-root", "cogstack-nlp-trainer-admin"),
    }
    assert not {f for f in found if f[0] == "docker-non-root" and f[2] == "mandatory"}
    # The engine's blocking findings are the offline review's, and so are the waived ones.
    plan = make_plan("strict", folder)
    assert plan.exit_code == EXIT_OK
    assert {(v.rule, v.resource_name) for v in plan.review.waived} == waived
    assert {(r, n) for r, n, level in found if level == "mandatory"} == {
        (v.rule, v.resource_name) for v in plan.review.mandatory
    }

    # Expired: the same findings block, naming the expired waiver; the review fails too.
    expired_folder = strict_local(tmp_path / "expired", "2020-01-01")
    expired_doc = json.loads(json.dumps(policy_pack_config(load_config("strict", expired_folder))))
    found, waived = engine_findings("strict", expired_folder, expired_doc)
    assert waived == set()
    assert ("docker-non-root", "cogstack-nlp-medcat-trainer", "mandatory") in found
    plan = make_plan("strict", expired_folder)
    assert plan.exit_code != EXIT_OK and plan.review.expired_waivers


def test_an_expired_waiver_is_named_in_the_blocking_message() -> None:
    from policy import waivers

    config = {
        "waivers": [
            {"resource": "web-*", "approvedBy": "so@hospital.example", "expires": "2020-01-01", "reason": "r" * 20}
        ]
    }
    assert waivers.decide("docker-non-root", "web-1", "urn:w", "runs as root", config) == (
        "runs as root (the waiver approved by so@hospital.example expired on 2020-01-01)"
    )
    assert waivers.decide("docker-non-root", "db-1", "urn:d", "runs as root", config) == "runs as root"  # not covered
    active = {"waivers": [{**config["waivers"][0], "expires": "2099-01-01"}]}
    assert waivers.decide("docker-non-root", "web-1", "urn:w", "runs as root", active) is None
    assert waivers.WAIVED[-1].note.startswith("waived until 2099-01-01 by so@hospital.example")
    waivers.WAIVED.clear()
    # The review date the offline review may pass decides expiry like today does under the engine.
    on_the_day = {**active, "reviewDate": "2099-01-01"}
    assert waivers.decide("docker-non-root", "web-1", "urn:w", "x", on_the_day) is None
    waivers.WAIVED.clear()


@pytest.mark.parametrize("stack", ["local", "lab"])
def test_engine_findings_equal_the_offline_review_for_shipped_docker_stacks(stack: str) -> None:
    plan = make_plan(stack)
    document = json.loads(json.dumps(policy_pack_config(plan.config)))
    found, waived = engine_findings(stack, ROOT, document)
    assert {(r, n, level) for r, n, level in found} == {
        (v.rule, v.resource_name, v.enforcement) for v in plan.review.violations if v.enforcement != "waived"
    }
    assert waived == {(v.rule, v.resource_name) for v in plan.review.waived}
