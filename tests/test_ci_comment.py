"""The pull-request comment, the cost diff against the base branch, the budget guard, SARIF and review stacks.

Plans are real output of ``python -m offline.plan --stack local --json`` or of
``make_plan`` on a temporary stack file; the base branch is another real plan.
"""

from __future__ import annotations

import ast
import copy
import datetime
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import ci_comment, ci_review_stacks, ci_sarif
from offline.ci_comment import MARKER, cost_change, failure_lines, render_comment, resource_changes
from offline.harness import ROOT
from offline.plan import EXIT_VIOLATIONS, make_plan, to_json
from offline.plan import main as plan_main
from offline.providers import RESOURCES
from tests.test_plan import write_stack

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def local_plan() -> dict[str, Any]:
    """The local stack's plan exactly as ``make plan STACK=local ARGS=--json`` prints it."""
    result = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stack", "local", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def priced_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Docker container costs USD 10 a month while the test runs."""
    monkeypatch.setitem(RESOURCES, CONTAINER, replace(RESOURCES[CONTAINER], price=lambda inputs: (10.0, "test price")))


def test_comment_has_marker_resources_violations_waivers_and_cost(local_plan: dict[str, Any]) -> None:
    comment = render_comment({"local": local_plan})
    assert comment.splitlines()[0] == MARKER
    row = next(line for line in comment.splitlines() if line.startswith("| `local` |"))
    # 28 resources since the MedCAT Trainer's PostgreSQL (and its TLS material) was replaced by a SQLite volume;
    # 46: alert delivery (Prometheus, Alertmanager, blackbox and node exporters, their volumes, an egress network)
    # and the backups of three services' volumes; 56: the TLS sidecars of the two routed services (a container,
    # its image and a key, request and certificate each).
    assert row == "| `local` | onprem/docker | 56 | 0 / 0 / 2 | 0.00 | no base | — | ✅ pass |"
    assert f"| `{CONTAINER}` | 15 |" in comment
    assert "| medium | 0 | 0 | 2 |" in comment
    assert (
        "- `docker-non-root` on `cogstack-nlp-medcat-trainer`: waived until 2027-06-30 by security-officer" in comment
    )
    assert "no base-branch plans to compare with" in comment
    # Without preview output the section is left out; with an empty set it explains why nothing ran.
    assert "pulumi preview" not in comment
    assert "never for forks" in render_comment({"local": local_plan}, previews={})


def test_cost_change_against_the_base_branch(local_plan: dict[str, Any], priced_containers: None) -> None:
    head = to_json(make_plan("local"))
    change = cost_change(head, local_plan)
    # 10 containers at USD 10 (the local stack, alert delivery included).
    assert (change.usd, change.base_usd, change.delta) == (150.0, 0.0, 150.0)
    assert change.by_type == {CONTAINER: (150.0, 0.0)}
    comment = render_comment({"local": head}, {"local": local_plan})
    row = next(line for line in comment.splitlines() if line.startswith("| `local` |"))
    assert "| 150.00 | +150.00 |" in row and "56 (+0)" in row  # 56: the local stack's count (see above)
    assert "(base branch 0.00, change +150.00)" in comment
    assert f"| `{CONTAINER}` | 150.00 | +150.00 |" in comment
    # A cheaper branch shows a negative change.
    assert cost_change(local_plan, head).delta == -150.0
    assert "| 0.00 | -150.00 |" in render_comment({"local": local_plan}, {"local": head})


def test_resource_changes_new_and_removed_stacks(local_plan: dict[str, Any]) -> None:
    base = copy.deepcopy(local_plan)
    base["resources"]["byType"][CONTAINER] = 9
    base["resources"]["byType"]["docker:index/secret:Gone"] = 2
    base["resources"]["total"] = 57  # one more than the local stack's 56
    changes = resource_changes(local_plan, base)
    assert changes[CONTAINER] == (15, 9) and changes["docker:index/secret:Gone"] == (0, 2)
    comment = render_comment({"local": local_plan, "new": local_plan}, {"local": base, "old": base})
    assert f"| `{CONTAINER}` | 15 | +6 |" in comment and "| `docker:index/secret:Gone` | 0 | -2 |" in comment
    assert "| `local` | onprem/docker | 56 (-1) |" in comment
    new_row = next(line for line in comment.splitlines() if line.startswith("| `new` |"))
    assert "| new stack |" in new_row
    assert "Stacks removed in this branch: `old`" in comment


def test_budget_guard_stops_an_over_budget_stack(
    tmp_path: Path, priced_containers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stack(tmp_path, "tiny", {"budgetUsdPerMonth": 0})
    data = to_json(make_plan("tiny", tmp_path))
    assert data["cost"]["budgetUsdPerMonth"] == 0 and data["cost"]["overBudget"] is True
    assert data["exitCode"] == EXIT_VIOLATIONS
    assert failure_lines("tiny", data) == [
        "tiny: estimated USD 150.00/month exceeds clinical-platform:budgetUsdPerMonth (0.00); "
        "choose smaller sizes or GPUs, or raise the budget"
    ]
    row = next(line for line in render_comment({"tiny": data}).splitlines() if line.startswith("| `tiny` |"))
    assert "| 150.00 | no base | 0.00 | ❌ estimated USD 150.00/month exceeds" in row
    assert plan_main(["--stack", "tiny", "--stack-dir", str(tmp_path)]) == EXIT_VIOLATIONS
    assert "FAILED: estimated USD 150.00/month exceeds clinical-platform:budgetUsdPerMonth (0.00)" in (
        capsys.readouterr().out
    )


def test_mandatory_violations_are_listed_by_severity(tmp_path: Path) -> None:
    write_stack(
        tmp_path, "strict", {"policy": {"enforcement": "mandatory", "overrides": {"docker-non-root": "mandatory"}}}
    )
    data = to_json(make_plan("strict", tmp_path))
    comment = render_comment({"strict": data})
    assert "| medium | 2 | 0 | 0 |" in comment
    assert "| mandatory | medium | `docker-non-root` | `cogstack-nlp-medcat-trainer` |" in comment
    assert "❌ 2 mandatory policy violation(s)" in comment and "**Waivers**" not in comment


def test_untrusted_text_cannot_break_the_table_or_the_fence(local_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(local_plan)
    plan["policy"]["violations"][0].update(enforcement="advisory", message="a | b\nc")
    comment = render_comment({"local": plan}, previews={"staging": "diff ```` fenced\n+ 1 to create"})
    assert "| a \\| b c |" in comment
    assert "`````text\ndiff ```` fenced\n+ 1 to create\n`````" in comment


def test_long_previews_keep_their_summary_and_long_comments_are_cut(local_plan: dict[str, Any]) -> None:
    preview = "step\n" * 10_000 + "Resources: 3 to create"
    comment = render_comment({"local": local_plan}, previews={"prod": preview})
    assert comment.rstrip().endswith("</details>") and "Resources: 3 to create" in comment
    assert "characters cut; full output in the job log" in comment
    plan = copy.deepcopy(local_plan)
    plan["policy"]["violations"] = [{**plan["policy"]["violations"][0], "waiver": "x" * 500}] * 400
    stacks = {f"s{i}": plan for i in range(3)}
    long = render_comment(stacks, previews={"prod": preview})
    assert len(long) <= ci_comment.MAX_COMMENT_CHARS + 100
    assert "Per-stack details were left out" in long and "Resources: 3 to create" in long


def test_cli_writes_the_comment_and_reports_failures(
    tmp_path: Path, local_plan: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    plans, base = tmp_path / "plans", tmp_path / "base"
    plans.mkdir()
    base.mkdir()
    (plans / "local.json").write_text(json.dumps(local_plan))
    (plans / "broken.json").write_text("")  # the plan exited 2 and printed no JSON
    (base / "local.json").write_text(json.dumps(local_plan))
    out = tmp_path / "comment.md"
    assert ci_comment.main(["--plans", str(plans), "--base", str(base), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(MARKER) and "| `broken` | | | | | | | ❌ no plan" in text and "| 0.00 | +0.00 |" in text
    assert "FAILED broken: no plan; the stack file or its config is invalid" in capsys.readouterr().err
    assert ci_comment.main(["--plans", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert out.read_text().startswith(MARKER) and "produced no plans" in out.read_text()


@pytest.mark.parametrize("module", [ci_comment, ci_sarif])
def test_ci_modules_need_only_the_standard_library(module: Any) -> None:
    # CI renders the report with a bare Python, without the venv.
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


def _sarif(rule: str, **run: Any) -> dict[str, Any]:
    return {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "clinical-platform-policy"}}, "results": [{"ruleId": rule}], **run}],
    }


def test_sarif_runs_get_one_category_per_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    merged = ci_sarif.merge({"prod": _sarif("a", automationDetails={"guid": "g"}), "local": _sarif("b")})
    assert [r["automationDetails"] for r in merged["runs"]] == [
        {"id": "clinical-platform-review/local/"},
        {"guid": "g", "id": "clinical-platform-review/prod/"},
    ]
    assert [r["results"][0]["ruleId"] for r in merged["runs"]] == ["b", "a"] and merged["version"] == "2.1.0"
    for stack in ("local", "prod"):
        (tmp_path / "review" / stack).mkdir(parents=True)
        (tmp_path / "review" / stack / "report.sarif").write_text(json.dumps(_sarif(stack)))
    out = tmp_path / "review.sarif"
    assert ci_sarif.main(["--review", str(tmp_path / "review"), "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["runs"]) == 2
    assert ci_sarif.main(["--review", str(tmp_path / "none"), "--out", str(out)]) == 1
    assert "run `make review` first" in capsys.readouterr().err


def test_review_stack_file_gets_expiry_and_name_tags(tmp_path: Path) -> None:
    template = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    (tmp_path / "Pulumi.preview.yaml").write_text(yaml.safe_dump(template))
    path = ci_review_stacks.write_stack_file(12, 7, datetime.date(2026, 3, 30), tmp_path)
    assert path.name == "Pulumi.pr-12.yaml"
    config = yaml.safe_load(path.read_text())["config"]
    assert config["clinical-platform:tags"] == {
        **template["config"]["clinical-platform:tags"],
        "reviewStack": "pr-12",
        "expires": "2026-04-06",
    }
    assert config["clinical-platform:environment"] == "local"  # the template's own environment is kept
    assert config["clinical-platform:domain"] == "pr-12.clinical.localhost"  # no host name shared with other PRs
    plan = make_plan("pr-12", tmp_path)  # the tags are valid config
    assert plan.config.tags["expires"] == "2026-04-06" and plan.exit_code == 0


def test_expired_review_stacks() -> None:
    now = datetime.datetime(2026, 4, 10, 12, tzinfo=datetime.UTC)
    stacks: list[dict[str, Any]] = [
        {"name": "pr-1", "lastUpdate": "2026-04-01T10:00:00.000Z"},  # 9 days idle
        {"name": "pr-2", "lastUpdate": "2026-04-08T10:00:00Z"},  # 2 days idle
        {"name": "org/clinical-platform/pr-3", "lastUpdate": "2026-03-01T00:00:00"},
        {"name": "staging", "lastUpdate": "2020-01-01T00:00:00Z"},  # long-lived: never expires
        {"name": "pr-4"},  # never finished an update
        {"name": "pr-5", "lastUpdate": "2026-03-01T00:00:00Z", "updateInProgress": True},
        {"name": "pr-6x", "lastUpdate": "2020-01-01T00:00:00Z"},
    ]
    assert ci_review_stacks.expired(stacks, 7, now) == ["pr-1", "org/clinical-platform/pr-3", "pr-4"]
    assert ci_review_stacks.expired(stacks, 30, now) == ["org/clinical-platform/pr-3", "pr-4"]


def test_review_stack_comment(capsys: pytest.CaptureFixture[str]) -> None:
    routes = {"cogstack-nlp": ["https://medcat-api.pr-12.example.org", "https://medcat-trainer.pr-12.example.org"]}
    up = ci_review_stacks.comment(12, routes, datetime.date(2026, 4, 6))
    assert up.splitlines()[0] == ci_review_stacks.MARKER
    assert "- **cogstack-nlp**: <https://medcat-api.pr-12.example.org>, <https://medcat-trainer.pr-12" in up
    assert "after 2026-04-06 if left idle" in up
    assert "Destroyed and removed" in ci_review_stacks.comment(12, None, None)
    assert ci_review_stacks.main(["comment", "--number", "12", "--routes", ""]) == 0
    assert "The stack exports no routes." in capsys.readouterr().out


def test_make_ci_plan_reproduces_the_pull_request_job(tmp_path: Path, local_plan: dict[str, Any]) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "local.json").write_text(json.dumps(local_plan))
    out = tmp_path / "ci"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed",
            "ci-plan",
            f"CI_OUT={out}",
            f"BASE={tmp_path / 'base'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shipped = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
    assert sorted(p.stem for p in (out / "plans").glob("*.json")) == shipped
    assert all(json.loads((out / "plans" / f"{s}.json").read_text())["stack"] == s for s in shipped)
    assert all((out / "review" / s / "junit.xml").exists() for s in shipped)
    comment = (out / "comment.md").read_text()
    assert comment.startswith(MARKER) and "its change against the base branch" in comment
    assert all(f"| `{s}` |" in comment for s in shipped)
    assert "| `local` | onprem/docker | 56 (+0) | 0 / 0 / 2 | 0.00 | +0.00 |" in comment  # 56: see the first test
    runs = json.loads((out / "review.sarif").read_text())["runs"]
    assert sorted(r["automationDetails"]["id"] for r in runs) == sorted(
        f"clinical-platform-review/{s}/" for s in shipped
    )
