"""The GitHub workflows: linters, guard rails, and that every command and stack they name exists.

actionlint (with shellcheck on every ``run:``), the GitHub workflow JSON schema
and zizmor run from the venv, offline; each is first shown a broken workflow,
so a linter that silently checks nothing fails here.
"""

from __future__ import annotations

import datetime
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import ci_comment, ci_review_stacks
from offline.harness import ROOT, load_stack_file
from offline.plan import make_plan

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^# v\d+\.\d+\.\d+$")
PULUMI_ACTION = "pulumi/actions"
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"

BROKEN = """name: broken
on: [pull_request]
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: for f in $(ls *.txt); do cat $f; done
"""


def load(path: Path) -> dict[str, Any]:
    """A workflow as data (YAML 1.1 reads the ``on`` key as True)."""
    raw: dict[Any, Any] = yaml.safe_load(path.read_text())
    raw["on"] = raw.pop(True, raw.get("on"))
    return {str(k): v for k, v in raw.items()}


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job id, job) for every job."""
    for path in FILES:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def steps() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(workflow file, job id, job, step) for every step."""
    for name, job_id, job in jobs():
        for step in job.get("steps", []):
            yield name, job_id, job, step


def pulumi_steps() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """Steps running pulumi/actions with a command."""
    for name, job_id, job, step in steps():
        if step.get("uses", "").startswith(PULUMI_ACTION + "@") and "command" in step.get("with", {}):
            yield name, job_id, job, step


def commands(script: str) -> list[list[str]]:
    """Each command of a ``run:`` script as words (continuations joined, pipes and ``;``/``&&`` split)."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"\|\||&&|;|\|", line):
            try:
                words = shlex.split(part.replace("(", " ").replace(")", " "), comments=True)
            except ValueError:
                continue
            if words and words[0] in {"if", "then", "else", "while", "until", "do"}:
                words = words[1:]
            if words:
                out.append(words)
    return out


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_workflows_exist() -> None:
    names = {p.name for p in FILES}
    assert {
        "ci.yml",
        "pr-report.yml",
        "deploy.yml",
        "drift.yml",
        "review-stack.yml",
        "review-stack-expiry.yml",
    } <= names


# ---------------------------------------------------------------- linters


def test_actionlint_with_shellcheck_is_clean(tmp_path: Path) -> None:
    lint = (BIN / "actionlint", "-no-color", "-shellcheck", BIN / "shellcheck", "-pyflakes=")
    (tmp_path / "broken.yml").write_text(BROKEN)
    broken = run_tool(*lint, tmp_path / "broken.yml")
    assert broken.returncode == 1 and '"github.event.pull_request.title" is potentially untrusted' in broken.stdout
    assert "shellcheck reported issue in this script: SC2045" in broken.stdout
    result = run_tool(*lint, *FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_workflows_match_the_github_workflow_schema(tmp_path: Path) -> None:
    check = (BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows")
    (tmp_path / "broken.yml").write_text(BROKEN.replace("runs-on: ubuntu-24.04", "runs-on: 42\n    timeout: x"))
    assert run_tool(*check, tmp_path / "broken.yml").returncode == 1
    result = run_tool(*check, *FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_dependabot_keeps_actions_and_requirements_current(tmp_path: Path) -> None:
    check = (BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot")
    (tmp_path / "dependabot.yml").write_text("version: 2\nupdates:\n  - package-ecosystem: github-actions\n")
    assert run_tool(*check, tmp_path / "dependabot.yml").returncode == 1  # no directory or schedule
    config = ROOT / ".github" / "dependabot.yml"
    result = run_tool(*check, config)
    assert result.returncode == 0, result.stdout + result.stderr
    ecosystems = {u["package-ecosystem"] for u in yaml.safe_load(config.read_text())["updates"]}
    assert ecosystems == {"github-actions", "pip"}


def test_zizmor_offline_audit_is_clean_even_for_auditors(tmp_path: Path) -> None:
    audit = (BIN / "zizmor", "--offline", "--no-progress", "--persona", "auditor", "--format", "plain")
    (tmp_path / "broken.yml").write_text(BROKEN)
    broken = run_tool(*audit, tmp_path / "broken.yml")
    assert broken.returncode != 0 and "template-injection" in broken.stdout and "unpinned-uses" in broken.stdout
    result = run_tool(*audit, *FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


# ---------------------------------------------------------------- guard rails


def test_actions_are_pinned_by_full_sha_with_a_version_comment() -> None:
    pins: dict[str, set[str]] = {}
    for path in FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:- )?uses:\s*(\S+)\s*(#.*)?$", line)
            if not match:
                continue
            ref, comment = match.groups()
            assert SHA_PIN.match(ref), f"{path.name}:{number}: {ref} is not pinned by a full commit SHA"
            assert comment and VERSION_COMMENT.match(comment.strip()), f"{path.name}:{number}: no '# vX.Y.Z' comment"
            pins.setdefault(ref.split("@")[0], set()).add(f"{ref} {comment.strip()}")
    assert len(pins) >= 8
    drifting = {action: refs for action, refs in pins.items() if len(refs) > 1}
    assert not drifting, f"one pin per action across workflows: {drifting}"


def test_least_privilege_permissions() -> None:
    for path in FILES:
        assert load(path)["permissions"] == {}, f"{path.name}: the workflow grants nothing by default"
    for name, job_id, job in jobs():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict) and permissions, f"{name}:{job_id}: list the job's permissions"
        assert set(permissions.values()) <= {"read", "write", "none"}
        uses = {s.get("uses", "").split("@")[0] for s in job.get("steps", [])}
        if permissions.get("id-token") == "write":
            assert uses & {"aws-actions/configure-aws-credentials", "google-github-actions/auth"}, (
                f"{name}:{job_id}: id-token without a cloud login"
            )
        if permissions.get("contents") == "write":
            pytest.fail(f"{name}:{job_id}: no job pushes to the repository")


def test_pull_request_code_never_runs_with_secrets_or_write_access() -> None:
    for path in FILES:
        data, text = load(path), path.read_text()
        assert "pull_request_target" not in text, f"{path.name}: use pull_request for fork code"
        triggers = data["on"] if isinstance(data["on"], dict) else dict.fromkeys(data["on"])
        if "pull_request" in triggers:
            for job_id, job in data["jobs"].items():
                writes = {k for k, v in job["permissions"].items() if v == "write"}
                if writes or "secrets." in yaml.safe_dump(job):
                    assert SAME_REPO in job["if"], f"{path.name}:{job_id}: writes or secrets without the same-repo gate"
        if "workflow_run" in triggers:
            # Privileged context: it must only read artifacts, never check out or run pull-request code.
            for job_id, job in data["jobs"].items():
                for step in job["steps"]:
                    assert not step.get("uses", "").startswith("actions/checkout@"), f"{path.name}:{job_id}"
                    assert not re.search(r"\b(make|python|pip|npm|bash \S+\.sh)\b", step.get("run", "")), job_id


def test_secrets_only_reach_steps_through_env_and_keys_never_do() -> None:
    for name, job_id, _, step in steps():
        assert "secrets." not in step.get("run", ""), f"{name}:{job_id}: a secret inside a script can be printed"
        assert "secrets." not in yaml.safe_dump(step.get("with", {})), f"{name}:{job_id}: pass secrets through env"
        for key, value in (step.get("env") or {}).items():
            if "secrets." in str(value):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", str(value)), f"{name}:{job_id}: {key}"
    texts = " ".join(p.read_text() for p in FILES)
    for long_lived in ("aws-access-key-id", "aws-secret-access-key", "credentials_json", "AWS_SECRET_ACCESS_KEY"):
        assert long_lived not in texts, "cloud credentials come from OIDC only"
    assert "toJSON(secrets)" not in texts and "secrets: inherit" not in texts


def test_every_stack_update_is_serialised_and_refreshed_first() -> None:
    updates = [(n, j, job, s) for n, j, job, s in pulumi_steps() if s["with"]["command"] in {"up", "destroy"}]
    assert {s["with"]["command"] for *_, s in updates} == {"up", "destroy"}
    for name, job_id, job, step in updates:
        group = job["concurrency"]["group"]
        assert group == f"pulumi-{step['with']['stack-name']}", f"{name}:{job_id}: one group per stack"
        assert job["concurrency"]["cancel-in-progress"] is False, f"{name}:{job_id}: never cancel an update midway"
        if step["with"]["command"] == "up":
            assert step["with"]["refresh"] is True, f"{name}:{job_id}: refresh before update"
            assert step["with"]["policyPacks"] == "policy"


def test_deploys_staging_on_main_then_prod_behind_its_environment() -> None:
    deploy = load(WORKFLOWS / "deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    staging, prod = deploy["jobs"]["staging"], deploy["jobs"]["prod"]
    assert (staging["environment"], prod["environment"], prod["needs"]) == ("staging", "prod", "staging")
    for job, stack in ((staging, "staging"), (prod, "prod")):
        runs = [s.get("run", "") for s in job["steps"]]
        # The offline plan gates the update: policy, waivers and the budget, before any credential is used.
        assert runs.index(f"make plan STACK={stack}") < next(
            i for i, s in enumerate(job["steps"]) if "with" in s and "role-to-assume" in s["with"]
        )


def test_previews_and_drift_use_the_pulumi_action_with_policy_and_a_pinned_cli() -> None:
    sdk = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    previews = [(n, s) for n, _, _, s in pulumi_steps() if s["with"]["command"] == "preview"]
    assert [n for n, _ in previews] == ["ci.yml"]
    preview = previews[0][1]["with"]
    assert preview["policyPacks"] == "policy"
    assert preview["policyPackConfigs"] == "review/${{ matrix.stack }}/policy-config.json"
    for name, _, _, step in steps():
        if step.get("uses", "").startswith(PULUMI_ACTION + "@"):
            assert str(step["with"]["pulumi-version"]) == sdk, f"{name}: the CLI matches the pulumi SDK pin"
    drift = load(WORKFLOWS / "drift.yml")
    assert drift["on"]["schedule"]
    script = next(s["run"] for s in drift["jobs"]["drift"]["steps"] if s.get("id") == "drift")
    assert 'pulumi preview --stack "$STACK" --refresh --expect-no-changes' in script


def test_the_report_workflow_follows_ci_and_edits_one_comment() -> None:
    ci, report = load(WORKFLOWS / "ci.yml"), load(WORKFLOWS / "pr-report.yml")
    assert report["on"]["workflow_run"]["workflows"] == [ci["name"]]
    marker = report["jobs"]["comment"]["steps"][1]["env"]["MARKER"]
    assert marker == ci_comment.MARKER
    assert "PATCH" in report["jobs"]["comment"]["steps"][1]["run"]
    uploads = {s["with"]["name"] for _, _, _, s in steps() if s.get("uses", "").startswith("actions/upload-artifact")}
    downloads = {s["with"].get("name") for _, _, _, s in steps() if "download-artifact" in s.get("uses", "")}
    assert "pr-report" in uploads and "pr-report" in downloads


# ---------------------------------------------------------------- commands and stacks exist


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def workflow_commands() -> Iterator[tuple[str, dict[str, Any], dict[str, Any], list[str]]]:
    """(workflow file, job, step, command words) for every command of every ``run:``."""
    for name, _, job, step in steps():
        for words in commands(step.get("run", "")):
            yield name, job, step, words


def matrix_stacks(job: dict[str, Any]) -> list[dict[str, str]]:
    return list(job.get("strategy", {}).get("matrix", {}).get("include", []))


def resolve_stack(value: str, job: dict[str, Any], step: dict[str, Any]) -> list[str]:
    """The stack files a stack name in a workflow stands for."""
    env = {**job.get("env", {}), **(step.get("env") or {})}
    value = re.sub(r"^\$\{?(\w+)\}?$", lambda m: str(env.get(m.group(1), m.group(0))), value)
    if value.startswith("pr-"):
        return [ci_review_stacks.TEMPLATE]  # review stacks are written from the template
    if "${{ matrix.stack }}" in value:
        return [value.replace("${{ matrix.stack }}", m["stack"]) for m in matrix_stacks(job)]
    assert "$" not in value, f"cannot tell which stack {value!r} is"
    return [value]


def referenced_stacks() -> dict[str, set[str]]:
    """Stack name -> workflows that name it (pulumi/actions, make STACK=, matrices)."""
    found: dict[str, set[str]] = {}
    for name, _, job in jobs():
        for entry in matrix_stacks(job):
            found.setdefault(entry["stack"], set()).add(name)
    for name, _, job, step in pulumi_steps():
        for stack in resolve_stack(str(step["with"]["stack-name"]), job, step):
            found.setdefault(stack, set()).add(name)
    for name, job, step, words in workflow_commands():
        for word in words:
            if word.startswith("STACK="):
                for stack in resolve_stack(word.split("=", 1)[1], job, step):
                    found.setdefault(stack, set()).add(name)
    return found


def test_every_make_target_the_workflows_call_exists() -> None:
    targets = makefile_targets()
    called = {(name, w) for name, _, _, words in workflow_commands() if words[0] == "make" for w in words[1:2]}
    assert {w for _, w in called} >= {"test", "venv", "ci-plan", "plan", "policy-config"}
    missing = sorted(f"{name}: make {target}" for name, target in called if target not in targets)
    assert not missing, f"Makefile lacks: {missing}"
    # ci-plan itself runs `make review` for every stack.
    assert {"review", "ci-plan"} <= targets


def test_every_python_module_and_option_the_workflows_call_exists() -> None:
    seen = set()
    for name, _, _, words in workflow_commands():
        if "-m" not in words or not words[0].endswith("python"):
            continue
        module = words[words.index("-m") + 1]
        source = ROOT / (module.replace(".", "/") + ".py")
        assert source.exists(), f"{name}: python -m {module}: no {source.relative_to(ROOT)}"
        text = source.read_text()
        if "stack_arguments(parser)" in text:  # the options every stack command shares
            text += (ROOT / "offline" / "cli_errors.py").read_text()
        for flag in (w.split("=")[0] for w in words if w.startswith("--")):
            assert f'"{flag}"' in text, f"{name}: {module} has no option {flag}"
        seen.add(module)
    assert seen >= {"offline.plan", "offline.ci_comment", "offline.ci_review_stacks"}


def test_every_stack_the_workflows_name_has_a_stack_file() -> None:
    stacks = referenced_stacks()
    assert {"staging", "prod", "preview"} <= set(stacks)
    missing = sorted(
        f"Pulumi.{s}.yaml (named in {', '.join(sorted(w))})"
        for s, w in stacks.items()
        if not (ROOT / f"Pulumi.{s}.yaml").exists()
    )
    assert not missing, f"stack files missing: {missing}"


def test_every_shipped_stack_is_covered() -> None:
    """Every stack file is planned offline; every cloud stack is also previewed, deployed and watched for drift."""
    makefile = (ROOT / "Makefile").read_text()
    assert "SHIPPED_STACKS = $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))" in makefile
    ci = load(WORKFLOWS / "ci.yml")
    assert any("make ci-plan" in s.get("run", "") for s in ci["jobs"]["plan"]["steps"])
    previewed = {m["stack"]: m["cloud"] for m in matrix_stacks(ci["jobs"]["preview"])}
    drift = {m["stack"]: m["cloud"] for m in matrix_stacks(load(WORKFLOWS / "drift.yml")["jobs"]["drift"])}
    deployed = {str(s["with"]["stack-name"]) for n, _, _, s in pulumi_steps() if n == "deploy.yml"}
    shipped = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
    for stack in shipped:
        config, _ = load_stack_file(stack)
        cloud = config.get("clinical-platform:cloud", "onprem")
        if stack == ci_review_stacks.TEMPLATE or cloud == "onprem":
            continue  # the review-stack template, and stacks on a hospital's own host: offline plan only
        assert previewed.get(stack) == cloud, f"{stack} ({cloud}) missing from ci.yml's preview matrix"
        assert drift.get(stack) == cloud, f"{stack} ({cloud}) missing from drift.yml's matrix"
        assert stack in deployed, f"{stack} is not deployed by deploy.yml"
    for stack, cloud in {**previewed, **drift}.items():
        config, _ = load_stack_file(stack)
        assert config.get("clinical-platform:cloud") == cloud, f"{stack}: the matrix says cloud {cloud}"


def test_the_review_stack_template_writes_a_plannable_stack(tmp_path: Path) -> None:
    template = ROOT / f"Pulumi.{ci_review_stacks.TEMPLATE}.yaml"
    assert template.exists(), "review stacks are written from Pulumi.preview.yaml"
    (tmp_path / template.name).write_text(template.read_text())
    ci_review_stacks.write_stack_file(7, 7, datetime.date(2026, 1, 1), tmp_path)
    plan = make_plan("pr-7", tmp_path)
    assert plan.config.tags["reviewStack"] == "pr-7" and plan.config.environment == "preview"
    assert plan.config.domain.startswith("pr-7.") and plan.config.tags["expires"] == "2026-01-08"
    assert plan.review.mandatory == []
