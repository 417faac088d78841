"""The compliance review files: report.md/json, SARIF, JUnit, summary.md and exit codes, on real and weakened stacks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml

from offline.cost import CostEstimate, CostLine
from offline.coverage import coverage
from offline.harness import ROOT
from offline.junit import render_junit
from offline.plan import EXIT_CONFIG, EXIT_OK, EXIT_VIOLATIONS, Plan, make_plan
from offline.plan import main as plan_main
from offline.plan import render_text as plan_text
from offline.plan import to_json as plan_json
from offline.report import ComplianceReport, build_report, catalogue, to_json
from offline.report_markdown import render_report, render_summary
from offline.review import Violation
from offline.review_cli import FILES, main
from offline.sarif import EXPIRED_WAIVER_RULE, level, to_sarif
from tests.test_plan import write_stack

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
CONTAINER = "docker:index/container:Container"
TRAINER, ADMIN = "cogstack-nlp-medcat-trainer", "cogstack-nlp-trainer-admin"
WAIVER = {
    "rule": "docker-non-root",
    "resource": TRAINER,
    "approvedBy": "officer@hospital.example",
    "expires": "2099-01-01",
    "reason": "Image writes under /home/api at start-up; compensated by dropped capabilities.",
}
# Weakened on purpose: everything mandatory, non-root mandatory, health checks off, one live and one expired waiver.
WEAK_POLICY = {
    "enforcement": "mandatory",
    "overrides": {"docker-non-root": "mandatory", "docker-healthcheck": "disabled"},
    "waivers": [WAIVER, {**WAIVER, "resource": ADMIN, "expires": "2020-01-01"}],
}


@pytest.fixture(scope="module")
def local() -> tuple[Plan, ComplianceReport]:
    plan = make_plan("local")
    return plan, build_report(plan)


@pytest.fixture(scope="module")
def weak_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stack(tmp_path_factory.mktemp("weak"), "weak", {"policy": WEAK_POLICY})


@pytest.fixture(scope="module")
def weak(weak_dir: Path) -> tuple[Plan, ComplianceReport]:
    plan = make_plan("weak", weak_dir)
    return plan, build_report(plan, weak_dir / "Pulumi.weak.yaml")


def control(report: ComplianceReport, rule: str) -> Any:
    return next(c for c in report.controls if c.rule.name == rule)


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_local_report_covers_each_rule_on_every_resource_of_its_types(local: tuple[Plan, ComplianceReport]) -> None:
    plan, report = local
    customs = [r for r in plan.run.resources if r.custom]
    assert {c.rule.name for c in report.controls} == {r.name for r in catalogue()}
    for ctrl in report.controls:
        assert sorted(c.urn for c in ctrl.checks) == sorted(
            r.urn for r in customs if r.type in ctrl.rule.resource_types
        )
    non_root = control(report, "docker-non-root")
    verdicts = {c.resource_name: c.verdict for c in non_root.checks}
    assert verdicts[TRAINER] == verdicts[ADMIN] == "waived"
    assert verdicts["local-proxy"] == "pass" and non_root.verdict == "waived"
    waiver = next(c for c in non_root.checks if c.resource_name == TRAINER).waiver
    assert waiver is not None and waiver.approved_by == "security-officer@hospital.example"
    assert str(waiver.expires) == "2027-06-30" and waiver.covers == (TRAINER, ADMIN)
    # 28, not 33: the Trainer's PostgreSQL (container, volume, password, TLS key, CSR, certificate) and the
    # medcat-logs volume went; its SQLite volume came (the nginx container and image replaced the database's).
    # 39 since alert delivery (stacks/alerts): Prometheus, Alertmanager, blackbox and node exporters (4 containers,
    # 4 images), their 2 data volumes and the egress network Alertmanager and the exporter use; 46 since the
    # backups of the Trainer's, Solr's and MedCAT's volumes (3 containers, their image, 3 targets); 56 since the TLS
    # sidecars of MedCAT and the Trainer's nginx (a container, its image and a key, request and certificate each).
    assert report.resources_reviewed == plan.review.resources_reviewed == 56
    assert report.rules_evaluated == plan.review.rules_evaluated
    assert report.violation_totals() == {"mandatory": 0, "advisory": 0, "waived": 2} and report.exit_code == EXIT_OK


def test_local_report_markdown_has_figures_controls_waivers_coverage_and_sign_off(
    local: tuple[Plan, ComplianceReport],
) -> None:
    text = render_report(local[1])
    assert "| Resources reviewed | 56 (9 types) |" in text  # 56: see above
    assert "| Violations | 0 mandatory, 0 advisory, 2 waived |" in text
    assert "| medium | 0 | 0 | 2 |" in text and "Result: **PASS: nothing blocks** (exit code 0)" in text
    section = text[text.index("### 45 CFR 164.312(a)(1) Access control") :]
    section = section[section.index("#### `docker-non-root`") :]
    assert "Severity **medium** · enforcement **advisory**" in section
    owner = f"{TRAINER} (clinical:docker:ContainerWorkload)"
    assert (
        f"| {TRAINER} | `{CONTAINER}` | cogstack-nlp | {owner} | WAIVED | {TRAINER} runs as the image default"
        in section
    )
    assert "Waived until 2027-06-30 by security-officer@hospital.example: The MedCAT Trainer image" in section
    assert (
        f"| local-proxy | `{CONTAINER}` | foundation | local-proxy (clinical:docker:ContainerWorkload) | PASS |"
        in section
    )
    assert (
        "| docker-non-root | `cogstack-nlp-*trainer*` | cogstack-nlp-medcat-trainer, cogstack-nlp-trainer-admin |"
        in text
    )
    assert f"| `{CONTAINER}` | workload | tls, firewall, hardening, secrets, audit | - |" in text
    assert "| Decision | [ ] Approved  [ ] Approved with conditions  [ ] Rejected |" in text
    assert hashlib.sha256((ROOT / "Pulumi.local.yaml").read_bytes()).hexdigest() in text


def test_report_json_is_the_same_data(local: tuple[Plan, ComplianceReport]) -> None:
    data = json.loads(json.dumps(to_json(local[1])))
    assert data["decision"] == {"exitCode": 0, "passed": True, "blockingReasons": []}
    assert data["figures"]["checks"]["waived"] == 2 and data["figures"]["violations"]["waived"] == 2
    access = next(s for s in data["safeguards"] if s["hipaa"].startswith("45 CFR 164.312(a)(1)"))
    non_root = next(c for c in access["controls"] if c["rule"] == "docker-non-root")
    check = next(c for c in non_root["checks"] if c["resource"] == TRAINER)
    assert check["verdict"] == "waived" and check["waiver"]["reason"].startswith("The MedCAT Trainer image")
    assert data["waivers"][0]["covers"] == [TRAINER, ADMIN] and data["waivers"][0]["status"] == "active"
    assert data["figures"]["coverage"]["classifiedTypes"] == 9


def test_weakened_stack_fails_on_the_mandatory_violation_and_the_expired_waiver(
    weak: tuple[Plan, ComplianceReport],
) -> None:
    plan, report = weak
    assert report.exit_code == plan.exit_code == EXIT_VIOLATIONS
    checks = {c.resource_name: c for c in control(report, "docker-non-root").checks}
    assert checks[TRAINER].verdict == "waived" and not checks[TRAINER].blocking
    assert checks[ADMIN].verdict == "fail" and checks[ADMIN].blocking
    assert checks[ADMIN].waiver is not None and checks[ADMIN].waiver.status == "expired"
    assert control(report, "docker-healthcheck").verdict == "disabled"
    assert report.rules_evaluated == len(report.controls) - 1
    assert report.blocking_reasons() == [
        # The rule itself names the expired waiver (the engine shows the same message).
        f"docker-non-root on {ADMIN}: {ADMIN} runs as the image default user (often root); set a non-root uid:gid "
        "(the waiver approved by officer@hospital.example expired on 2020-01-01)",
        f"waiver for docker-non-root on {ADMIN} (approved by officer@hospital.example) expired on 2020-01-01",
    ]
    text = render_report(report)
    assert "Result: **FAIL: 2 blocking finding(s)** (exit code 1)" in text
    assert f"| docker-non-root | `{ADMIN}` | no longer covers {ADMIN} | officer@hospital.example | 2020-01-01 " in text
    assert "**EXPIRED: fails the review**" in text and "**1 expired waiver(s).**" in text
    assert f"| {ADMIN} | `{CONTAINER}` | cogstack-nlp | {ADMIN} (clinical:docker:ContainerWorkload) | **FAIL**" in text
    assert "Waiver expired on 2020-01-01 by officer@hospital.example" in text


def test_sarif_schema_is_the_vendored_official_file() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_text())["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")


def test_sarif_is_valid_and_invalid_sarif_is_caught(
    local: tuple[Plan, ComplianceReport], weak: tuple[Plan, ComplianceReport]
) -> None:
    validator = sarif_validator()
    for report in (local[1], weak[1]):
        document = json.loads(json.dumps(to_sarif(report)))
        assert list(validator.iter_errors(document)) == []
    broken = to_sarif(weak[1])
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(broken)  # the validator does reject what the schema forbids


def test_sarif_rules_come_from_the_catalogue(local: tuple[Plan, ComplianceReport]) -> None:
    driver = to_sarif(local[1])["runs"][0]["tool"]["driver"]
    assert [r["id"] for r in driver["rules"]] == [c.rule.name for c in local[1].controls] + [EXPIRED_WAIVER_RULE]
    non_root = next(r for r in driver["rules"] if r["id"] == "docker-non-root")
    assert non_root["helpUri"] == "https://www.ecfr.gov/current/title-45/section-164.312#p-164.312(a)(1)"
    assert "Set ServiceSpec.user" in non_root["help"]["text"]
    props = non_root["properties"]
    assert props["severity"] == "medium" and props["family"] == "hardening"
    assert {"HIPAA", "45 CFR 164.312(a)(1) Access control", "NIST 800-53 AC-6(10)"} <= set(props["tags"])
    assert non_root["defaultConfiguration"] == {"enabled": True, "level": "note"}


def test_sarif_results_levels_suppressions_and_locations(weak: tuple[Plan, ComplianceReport], weak_dir: Path) -> None:
    run = to_sarif(weak[1])["runs"][0]
    results = {
        (r["ruleId"], (r["locations"][0].get("logicalLocations") or [{}])[0].get("name")): r for r in run["results"]
    }
    assert set(results) == {("docker-non-root", TRAINER), ("docker-non-root", ADMIN), (EXPIRED_WAIVER_RULE, None)}
    waived, failing = results["docker-non-root", TRAINER], results["docker-non-root", ADMIN]
    assert waived["level"] == failing["level"] == "error"  # mandatory on this stack
    assert waived["suppressions"][0]["kind"] == "external" and waived["suppressions"][0]["status"] == "accepted"
    assert "officer@hospital.example" in waived["suppressions"][0]["justification"]
    assert failing["suppressions"] == [] and failing["properties"]["waiverExpired"] is True
    urn = next(c.urn for c in control(weak[1], "docker-non-root").checks if c.resource_name == ADMIN)
    assert failing["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == urn
    lines = (weak_dir / "Pulumi.weak.yaml").read_text().splitlines()
    physical = failing["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == (weak_dir / "Pulumi.weak.yaml").resolve().as_uri()
    # The failing result opens at the expired waiver's list item, the waived one at its live waiver.
    item = lines[physical["region"]["startLine"] - 1 :][:5]
    assert any("2020-01-01" in line for line in item) and any(ADMIN in line for line in item)
    start = waived["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert any("2099-01-01" in line for line in lines[start - 1 :][:5])


def test_sarif_of_a_shipped_stack_points_at_its_file_in_the_repository(local: tuple[Plan, ComplianceReport]) -> None:
    results = to_sarif(local[1])["runs"][0]["results"]
    assert [r["level"] for r in results] == ["note", "note"]  # medium and advisory on the local stack
    artifact = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "Pulumi.local.yaml", "uriBaseId": "%SRCROOT%"}
    line = results[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "rule: docker-non-root" in (ROOT / "Pulumi.local.yaml").read_text().splitlines()[line - 1]


def test_sarif_levels_follow_enforcement_then_severity() -> None:
    assert level("low", "mandatory") == "error"
    assert level("critical", "advisory") == level("high", "advisory") == "warning"
    assert level("medium", "advisory") == level("low", "advisory") == "note"


def junit_counts(root: ET.Element) -> dict[str, int]:
    cases = root.findall("./testsuite/testcase")
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }


def test_junit_parses_with_consistent_counts(
    local: tuple[Plan, ComplianceReport], weak: tuple[Plan, ComplianceReport]
) -> None:
    root = ET.fromstring(render_junit(local[1]).encode())
    assert root.tag == "testsuites" and junit_counts(root) == {
        "tests": len(local[1].checks),
        "failures": 0,
        "skipped": 2,
    }
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
    root = ET.fromstring(render_junit(weak[1]).encode())
    counts = junit_counts(root)
    assert counts == {"tests": len(weak[1].checks) + 1, "failures": 2, "skipped": 1 + 15}  # 15 disabled health checks
    assert {k: int(root.get(k, "-1")) for k in counts} == counts and root.get("errors") == "0"
    failing = root.find(f"./testsuite/testcase[@classname='docker-non-root'][@name='{ADMIN}']/failure")
    assert failing is not None and failing.get("type") == "mandatory"
    skipped = root.find(f"./testsuite/testcase[@classname='docker-non-root'][@name='{TRAINER}']/skipped")
    assert skipped is not None and "until 2099-01-01 by officer@hospital.example" in (skipped.get("message") or "")
    expired = root.find("./testsuite[@name='Waivers']/testcase/failure")
    assert expired is not None and expired.get("type") == "expired-waiver"


def test_advisory_findings_warn_in_junit_and_sarif_without_blocking(tmp_path: Path) -> None:
    write_stack(tmp_path, "adv", {"policy": {"overrides": {"docker-non-root": "advisory"}}})
    report = build_report(make_plan("adv", tmp_path), tmp_path / "Pulumi.adv.yaml")
    assert report.exit_code == EXIT_OK and report.violation_totals()["advisory"] == 2
    root = ET.fromstring(render_junit(report).encode())
    assert junit_counts(root)["failures"] == 0
    case = root.find(f"./testsuite/testcase[@name='{TRAINER}'][@classname='docker-non-root']/system-out")
    assert case is not None and (case.text or "").startswith("ADVISORY (medium):")
    assert {r["level"] for r in to_sarif(report)["runs"][0]["results"]} == {"note"}


def test_summary_is_short_and_link_free(local: tuple[Plan, ComplianceReport], tmp_path: Path) -> None:
    summary = render_summary(local[1])
    assert summary.splitlines()[0] == "### HIPAA compliance review of `local`: PASS"
    assert (
        "**Blocking (0)**: none." in summary
        and "docker-non-root on `cogstack-nlp-*trainer*` until 2027-06-30" in summary
    )
    many = [{**WAIVER, "resource": f"svc-{i}", "expires": "2020-01-01"} for i in range(12)]
    write_stack(tmp_path, "many", {"policy": {"waivers": many}})
    crowded = render_summary(build_report(make_plan("many", tmp_path), tmp_path / "Pulumi.many.yaml"))
    assert "**Blocking (12)**:" in crowded and "- and 6 more (see report.md)" in crowded
    for text in (summary, crowded):
        assert len(text.splitlines()) <= 25
        assert "http" not in text and "](" not in text


def test_over_budget_blocks_like_the_plan(local: tuple[Plan, ComplianceReport]) -> None:
    plan = local[0]
    costly = dataclasses.replace(
        plan,
        config=plan.config.model_copy(update={"budget_usd_per_month": 10.0}),
        cost=CostEstimate([CostLine("test:index/gpu:Gpu", "gpu", 25.0, "test")]),
    )
    report = build_report(costly)
    assert costly.exit_code == report.exit_code == EXIT_VIOLATIONS
    assert report.blocking_reasons() == ["estimated USD 25.00/month exceeds budgetUsdPerMonth (10.00)"]


def test_make_review_writes_every_file_and_exits_like_the_plan(weak_dir: Path, tmp_path: Path) -> None:
    assert main(["--stack", "local", "--out", str(tmp_path)]) == EXIT_OK
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == sorted(FILES)
    assert json.loads((tmp_path / "local" / "report.json").read_text())["stack"] == "local"
    assert main(["--stack", "weak", "--stack-dir", str(weak_dir), "--out", str(tmp_path)]) == EXIT_VIOLATIONS
    sarif = json.loads((tmp_path / "weak" / "report.sarif").read_text())
    assert list(sarif_validator().iter_errors(sarif)) == []
    ET.parse(tmp_path / "weak" / "junit.xml")


def test_make_review_config_errors_match_make_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stack(tmp_path, "typo", {"systems": ["cogstak-nlp"]})
    out = tmp_path / "out"
    assert main(["--stack", "typo", "--stack-dir", str(tmp_path), "--out", str(out)]) == EXIT_CONFIG
    review_err = capsys.readouterr().err
    assert plan_main(["--stack", "typo", "--stack-dir", str(tmp_path)]) == EXIT_CONFIG
    assert review_err == capsys.readouterr().err
    assert "did you mean 'cogstack-nlp'?" in review_err and not out.exists()
    assert main(["--stack", "nope", "--out", str(out)]) == EXIT_CONFIG
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_make_review_prints_no_traceback(tmp_path: Path) -> None:
    write_stack(tmp_path, "typo", {"domian": "x.org"})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "offline.review_cli",
            "--stack",
            "typo",
            "--stack-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr + result.stdout
    assert "clinical-platform:domian: unknown key; did you mean 'domain'?" in result.stderr


def test_coverage_counts_families_that_apply_and_lists_unclassified_types() -> None:
    rules = [r for r in catalogue() if r.name in {"docker-no-published-data-port", "docker-image-pinned"}]
    cov = coverage([CONTAINER, CONTAINER, "docker:index/volume:Volume", "test:index/thing:Thing"], rules)
    rows = {t.resource_type: t for t in cov.types}
    assert rows[CONTAINER].covered == ("firewall", "hardening")
    assert rows[CONTAINER].missing == ("tls", "secrets", "audit")
    assert rows["docker:index/volume:Volume"].missing == ("encryption", "data-protection")
    assert cov.unclassified == ["test:index/thing:Thing"] and cov.complete == 0 and cov.share == 0.0
    assert cov.by_family()["hardening"] == (1, 1) and cov.by_family()["encryption"] == (0, 1)
    image = coverage(["docker:index/remoteImage:RemoteImage", "aws:kms/alias:Alias"], rules)
    assert image.complete == 1 and image.share == 1.0 and image.supporting == ["aws:kms/alias:Alias"]


def test_stack_file_written_by_the_test_helper_is_a_real_weakening(weak_dir: Path) -> None:
    # Guards the fixture itself: the weakened stack must carry the settings the tests rely on.
    document = yaml.safe_load((weak_dir / "Pulumi.weak.yaml").read_text())
    assert document["config"]["clinical-platform:policy"] == WEAK_POLICY


def test_a_finding_about_the_whole_stack_is_reported_not_dropped(local: tuple[Plan, ComplianceReport]) -> None:
    # Stack rules may report the stack itself (no URN) or a resource outside their types.
    plan, report = local
    idle = next(c.rule for c in report.controls if not c.checks)
    finding = Violation(
        rule=idle.name,
        severity=idle.severity,
        enforcement="advisory",
        family=idle.family,
        resource_type="stack",
        resource_name="stack",
        urn="",
        message="no flow logs anywhere",
        remediation=idle.remediation,
        hipaa=idle.hipaa,
    )
    stacked = dataclasses.replace(plan, review=dataclasses.replace(plan.review, violations=[finding]))
    found = build_report(stacked)
    checks = control(found, idle.name).checks
    assert [(c.resource_name, c.verdict, c.messages) for c in checks] == [("stack", "fail", ("no flow logs anywhere",))]
    assert found.violation_totals() == {"mandatory": 0, "advisory": 1, "waived": 0}  # the local stack only warns
    sarif = to_sarif(found)
    assert list(sarif_validator().iter_errors(sarif)) == []
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == idle.name and "logicalLocations" not in result["locations"][0]


def test_each_finding_names_its_system_and_owning_component(weak: tuple[Plan, ComplianceReport]) -> None:
    """A security officer goes from a finding to its owner: the system and the component that registered it."""
    plan, report = weak
    checks = {c.resource_name: c for c in control(report, "docker-non-root").checks}
    assert (checks[ADMIN].system, checks[ADMIN].owner) == (
        "cogstack-nlp",
        f"{ADMIN} (clinical:docker:ContainerWorkload)",
    )
    key = next(c for c in report.checks if c.resource_name == "weak-ca-ca-key")
    assert (key.system, key.owner) == ("foundation", "weak-ca (clinical:onprem:PrivateCertificateAuthority)")
    found = {v["resource_name"]: v for v in plan_json(plan)["policy"]["violations"]}
    assert found[ADMIN]["system"] == "cogstack-nlp" and found[ADMIN]["owner"].startswith(ADMIN)
    blocking = [r for r in to_sarif(report)["runs"][0]["results"] if r["properties"].get("blocking")]
    assert {r["properties"]["system"] for r in blocking if r["ruleId"] == "docker-non-root"} == {"cogstack-nlp"}
    assert f"in cogstack-nlp, owned by {ADMIN} (clinical:docker:ContainerWorkload)" in plan_text(plan)
