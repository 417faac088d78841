"""The offline plan: the whole local stack, its review, cost, critical path and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import preview_blind
from offline.cost import estimate
from offline.critical_path import critical_path
from offline.harness import ROOT, Captured, ProgramRun, load_stack_file, run_program
from offline.plan import EXIT_CONFIG, EXIT_OK, EXIT_VIOLATIONS, Plan, main, make_plan
from offline.providers import RESOURCES
from offline.providers.profile import ResourceProfile, no_outputs
from offline.review import review
from stacks.cogstack_nlp import TRAINER_SETTINGS
from tests.conftest import named, of_type

SHIPPED = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
THERAPY_API_IMAGE = "registry.hospital.example/therapy/api:3.2.1"
# The MedCAT Trainer (v2.11.2) only knows SQLite, so the local stack runs no PostgreSQL: the PostgreSQL
# checks run on the local stack with therapy-compliance (a system with PostgreSQL) added beside CogStack.
WITH_POSTGRES = {
    "systems": ["cogstack-nlp", "therapy-compliance"],
    "overrides": {"therapy-compliance": {"services": {"api": {"image": THERAPY_API_IMAGE}}}},
}


def write_stack(tmp_path: Path, name: str, change: dict[str, Any]) -> Path:
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    document["config"].update({f"clinical-platform:{k}": v for k, v in change.items()})
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.fixture(scope="module")
def local_with_postgres() -> ProgramRun:
    """The shipped local stack's config with ``WITH_POSTGRES`` applied."""
    config, secret_keys = load_stack_file("local")
    config.update({f"clinical-platform:{k}": json.dumps(v) for k, v in WITH_POSTGRES.items()})
    return run_program("local", config=config, secret_keys=secret_keys)


def test_local_stack_registers_cogstack(local_run: ProgramRun) -> None:
    containers = {c.name for c in of_type(local_run, "docker:index/container:Container")}
    # The Trainer's nginx replaced its PostgreSQL (trainer-db): the Trainer at v2.11.2 only knows SQLite.
    assert containers == {
        "cogstack-nlp-medcat-service",
        "cogstack-nlp-medcat-trainer",
        "cogstack-nlp-trainer-nginx",
        # The TLS sidecars of the two routed services (both handle PHI): the proxy reaches them over HTTPS.
        "cogstack-nlp-medcat-service-tls",
        "cogstack-nlp-trainer-nginx-tls",
        "cogstack-nlp-solr",
        "cogstack-nlp-trainer-admin",
        # Its writable volumes' backups (components/backups.py), one per owner.
        "cogstack-nlp-backup-medcat-service",
        "cogstack-nlp-backup-medcat-trainer",
        "cogstack-nlp-backup-solr",
        # Monitoring and alert delivery (stacks.alerts): every system, CogStack included.
        "cogstack-nlp-prometheus",
        "cogstack-nlp-alertmanager",
        "cogstack-nlp-blackbox-exporter",
        "cogstack-nlp-node-exporter",
        "local-proxy",
    }
    assert local_run.exports["routes"] == {
        "cogstack-nlp": ["https://medcat-api.clinical.localhost", "https://medcat-trainer.clinical.localhost"]
    }


def test_medcat_service_follows_the_guide(local_run: ProgramRun) -> None:
    svc = named(local_run, "cogstack-nlp-medcat-service")
    env = dict(e.split("=", 1) for e in svc.inputs["envs"])
    assert env["APP_MEDCAT_MODEL_PACK"] == "/cat/models/medcat-snomed-2024.zip"
    assert env["SERVER_PORT"] == "5000" and env["APP_CUDA_DEVICE_COUNT"] == "-1"
    # The name 0.6.1 reads (medcat_processor.py); the guide's MEDCAT_ prefixed one is read by no release.
    assert env["ANNOTATIONS_ENTITY_OUTPUT_MODE"] == "dict" and "MEDCAT_ANNOTATIONS_ENTITY_OUTPUT_MODE" not in env
    assert svc.inputs["shmSize"] == 2048
    # Writable: MedCAT unpacks the model pack beside the zip on first start (the root file system stays read-only).
    assert {"volumeName": "cogstack-nlp-models", "containerPath": "/cat/models", "readOnly": False} in svc.inputs[
        "volumes"
    ]
    assert svc.inputs["readOnly"] is True and svc.inputs["user"] == "10001:10001"
    assert "/api/info" in " ".join(svc.inputs["healthcheck"]["tests"])
    assert svc.inputs["healthcheck"]["startPeriod"] == "2m0s"  # 120 s, as the provider spells it
    assert not svc.inputs.get("ports")


def test_trainer_keeps_sqlite_in_a_volume_with_generated_key_secure_cookies_and_no_debug(local_run: ProgramRun) -> None:
    trainer = named(local_run, "cogstack-nlp-medcat-trainer")
    assert trainer.inputs["command"] == ["/home/run.sh"]
    env = dict(e.split("=", 1) for e in trainer.inputs["envs"])
    # v2.11.2 hard-codes SQLite at /home/api/db/db.sqlite3: the database lives in its own volume, not the container.
    assert "DATABASE_URL" not in env
    mounts = {(v["volumeName"], v["containerPath"], v.get("readOnly", False)) for v in trainer.inputs["volumes"]}
    assert ("cogstack-nlp-trainer-sqlite", "/home/api/db", False) in mounts
    # The platform settings module, layered on upstream's, sets the generated key and Secure, SameSite cookies.
    assert env["DJANGO_SETTINGS_MODULE"] == "core.platform_settings"
    uploads = {u["file"]: u["content"] for u in trainer.inputs["uploads"]}
    settings = uploads["/home/api/core/platform_settings.py"]
    assert settings == TRAINER_SETTINGS
    assert 'SECRET_KEY = os.environ["SECRET_KEY"]' in settings
    assert "SESSION_COOKIE_SECURE = True" in settings and "CSRF_COOKIE_SECURE = True" in settings
    assert 'SESSION_COOKIE_SAMESITE = "Strict"' in settings
    # v2.11.2 reads none of these (cookies come from the module above; it has no self-registration: its users API is
    # read-only and accounts are made in the admin), so none is set to look like a control it is not.
    for key in ("SESSION_COOKIE_SECURE", "ENABLE_REGISTRATION", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
        assert key not in env, key
    assert len(env["SECRET_KEY"]) == 64 and "envs" in trainer.additional_secret_outputs
    assert env["SECRET_KEY"] == named(local_run, "cogstack-nlp-trainer-secret-key").outputs["result"]
    # Upstream parses DEBUG as true unless it is the empty string ("False" would turn debug on).
    assert env["DEBUG"] == ""
    # uwsgi on 8000, reached only through the Trainer's nginx (8000), which the proxy's trainer route targets.
    assert trainer.inputs["healthcheck"]["tests"][-1] == "http://127.0.0.1:8000/" and not trainer.inputs.get("ports")
    web = named(local_run, "cogstack-nlp-trainer-nginx")
    conf = next(u["content"] for u in web.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    assert "listen 8000;" in conf and "set $trainer http://medcat-trainer:8000;" in conf
    proxy = named(local_run, "local-proxy")
    proxy_conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    block = proxy_conf[proxy_conf.index("server_name medcat-trainer.clinical.localhost") :]
    block = block[: block.index("server {")] if "server {" in block else block
    assert "set $upstream https://cogstack-nlp-trainer-nginx-tls:8443;" in block
    sidecar = named(local_run, "cogstack-nlp-trainer-nginx-tls")
    sidecar_conf = next(u["content"] for u in sidecar.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    assert "set $upstream http://trainer-nginx:8000;" in sidecar_conf


def test_proxy_is_the_only_published_container_and_guards_the_api(local_run: ProgramRun) -> None:
    published = [c for c in of_type(local_run, "docker:index/container:Container") if c.inputs.get("ports")]
    assert [c.name for c in published] == ["local-proxy"]
    ports = {(p["internal"], p["external"]) for p in published[0].inputs["ports"]}
    assert ports == {(8443, 443), (8000, 80)}
    conf = next(u["content"] for u in published[0].inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    api_block = conf[conf.index("server_name medcat-api.clinical.localhost") :]
    api_block = api_block[: api_block.index("server {")] if "server {" in api_block else api_block
    assert "auth_basic_user_file /etc/nginx/auth/cogstack-nlp.htpasswd" in api_block
    assert "client_max_body_size 50m" in api_block and "proxy_read_timeout 600s" in api_block
    trainer_block = conf[conf.index("server_name medcat-trainer.clinical.localhost") :]
    assert "auth_basic" not in trainer_block[: trainer_block.index("}")]
    files = {u["file"] for u in published[0].inputs["uploads"]}
    assert "/etc/nginx/auth/cogstack-nlp.htpasswd" in files and "/etc/nginx/tls/tls.key" in files


def test_local_ca_issues_the_proxy_and_database_certificates(
    local_run: ProgramRun, local_with_postgres: ProgramRun
) -> None:
    # CogStack alone has no PostgreSQL any more (the Trainer only knows SQLite): the CA signs the proxy and the
    # TLS sidecars of its two routed services.
    sidecars = {f"{host}-csr": [host] for host in ("cogstack-nlp-medcat-service-tls", "cogstack-nlp-trainer-nginx-tls")}
    csrs = {r.name: r.inputs["dnsNames"] for r in of_type(local_run, "tls:index/certRequest:CertRequest")}
    assert csrs == {"local-proxy-csr": ["clinical.localhost", "*.clinical.localhost"], **sidecars}
    csrs = {r.name: r.inputs["dnsNames"] for r in of_type(local_with_postgres, "tls:index/certRequest:CertRequest")}
    assert csrs == {
        "local-proxy-csr": ["clinical.localhost", "*.clinical.localhost"],
        "therapy-compliance-db-tls-csr": ["db"],
        **sidecars,
        "therapy-compliance-api-tls-csr": ["therapy-compliance-api-tls"],
    }
    for run in (local_run, local_with_postgres):
        (ca,) = of_type(run, "tls:index/selfSignedCert:SelfSignedCert")
        assert ca.inputs["isCaCertificate"] is True
        assert "caCertificatePem" in run.exports


def test_postgres_accepts_only_tls_from_the_network(local_with_postgres: ProgramRun) -> None:
    db = named(local_with_postgres, "therapy-compliance-db")
    command = " ".join(db.inputs["command"])
    assert "ssl=on" in command and "ssl_min_protocol_version=TLSv1.2" in command
    uploads = {u["file"]: u for u in db.inputs["uploads"]}
    assert "hostnossl all       all   all      reject" in uploads["/etc/postgresql/pg_hba.conf"]["content"]
    key = uploads["/etc/postgresql/tls/server.key"]
    # Root-owned, readable through the root group only (PostgreSQL accepts a root-owned key up to 0640); no
    # upload names an owner, which a real daemon cannot resolve for a "uid:gid" user.
    assert key["permissions"] == "0440" and "owner" not in key and "uploads" in db.additional_secret_outputs
    assert db.inputs["groupAdds"] == ["0"] and db.inputs["user"] == "999:999"
    api = named(local_with_postgres, "therapy-compliance-api")
    env = dict(e.split("=", 1) for e in api.inputs["envs"])
    assert env["DATABASE_URL"].endswith("@db:5432/compliance?sslmode=require")


def test_data_stays_on_internal_networks(local_run: ProgramRun, local_with_postgres: ProgramRun) -> None:
    networks = {n.name: n.inputs for n in of_type(local_run, "docker:index/network:Network")}
    assert networks["local-edge"]["internal"] is False
    assert (
        networks["cogstack-nlp-backend"]["internal"] is True and networks["cogstack-nlp-frontend"]["internal"] is True
    )
    # CogStack's database is now the Trainer's SQLite file: the Trainer sits on the backend network only.
    trainer = named(local_run, "cogstack-nlp-medcat-trainer")
    assert [n["name"] for n in trainer.inputs["networksAdvanced"]] == ["cogstack-nlp-backend"]
    proxy = named(local_run, "local-proxy")
    assert "cogstack-nlp-backend" not in {n["name"] for n in proxy.inputs["networksAdvanced"]}
    # A PostgreSQL container, beside CogStack on the same local stack.
    networks = {n.name: n.inputs for n in of_type(local_with_postgres, "docker:index/network:Network")}
    assert networks["local-edge"]["internal"] is False
    assert networks["therapy-compliance-backend"]["internal"] is True
    db = named(local_with_postgres, "therapy-compliance-db")
    assert [n["name"] for n in db.inputs["networksAdvanced"]] == ["therapy-compliance-backend"]
    proxy = named(local_with_postgres, "local-proxy")
    assert not {"cogstack-nlp-backend", "therapy-compliance-backend"} & {
        n["name"] for n in proxy.inputs["networksAdvanced"]
    }


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_shipped_stack_plans_with_zero_mandatory_violations(stack: str, shipped_plans: dict[str, Plan]) -> None:
    plan = shipped_plans[stack]
    assert plan.review.mandatory == [], [v.message for v in plan.review.mandatory]
    assert plan.exit_code == EXIT_OK


def test_plan_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "local"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "https://medcat-api.clinical.localhost" in text
    assert "no cloud cost (on-premises" in text and "critical path" in text and "Policy review" in text
    assert main(["--stack", "local", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["resources"]["bySystem"]["cogstack-nlp"] > 10
    assert data["resources"]["byType"]["docker:index/container:Container"] == 15  # 3 backups, 4 monitoring, 2 TLS
    assert data["policy"]["mandatory"] == 0 and data["cost"]["usdPerMonth"] == 0
    assert data["criticalPath"]["seconds"] > 90


def test_plan_exits_1_on_a_mandatory_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The stack's own policy settings make an advisory finding mandatory.
    write_stack(
        tmp_path, "strict", {"policy": {"enforcement": "mandatory", "overrides": {"docker-non-root": "mandatory"}}}
    )
    assert main(["--stack", "strict", "--stack-dir", str(tmp_path)]) == EXIT_VIOLATIONS
    assert "[MANDATORY] medium   docker-non-root: cogstack-nlp-medcat-trainer" in capsys.readouterr().out


def test_plan_exits_2_with_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stack(tmp_path, "typo", {"systems": ["cogstak-nlp"]})
    assert main(["--stack", "typo", "--stack-dir", str(tmp_path)]) == EXIT_CONFIG
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "Stack 'typo' has 1 config error(s); nothing was planned:",
        "  clinical-platform:systems[0]: unknown system 'cogstak-nlp'; did you mean 'cogstack-nlp'?",
    ]


def test_missing_or_broken_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nope"]) == EXIT_CONFIG
    assert (
        "no stack file Pulumi.nope.yaml; shipped stacks: cluster, lab, local, preview, prod, prod-gcp, staging, "
        "staging-eks, staging-gcp, staging-gke" in capsys.readouterr().err
    )
    (tmp_path / "Pulumi.bad.yaml").write_text("config: [unclosed")
    assert main(["--stack", "bad", "--stack-dir", str(tmp_path)]) == EXIT_CONFIG
    assert "is not valid YAML" in capsys.readouterr().err


def test_make_plan_with_a_typo_prints_no_traceback(tmp_path: Path) -> None:
    write_stack(tmp_path, "typo", {"domian": "x.org"})
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stack", "typo", "--stack-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr + result.stdout
    assert "clinical-platform:domian: unknown key; did you mean 'domain'?" in result.stderr


def test_secure_values_become_secret_placeholders(tmp_path: Path) -> None:
    write_stack(tmp_path, "sec", {"tlsPrivateKey": {"secure": "v1:abc"}})
    config, secret_keys = load_stack_file("sec", tmp_path)
    assert secret_keys == {"clinical-platform:tlsPrivateKey"}
    assert config["clinical-platform:tlsPrivateKey"] == "offline-plan-secret-placeholder"
    assert json.loads(config["clinical-platform:tags"])["owner"]


def _rec(name: str, type_: str, parent: str = "", deps: tuple[str, ...] = (), custom: bool = True) -> Captured:
    return Captured(type_, name, name, parent, custom, False, list(deps), {}, None, [], [], False)


def test_critical_path_follows_dependencies_through_components() -> None:
    records = [
        _rec("comp", "clinical:x:C", custom=False),
        _rec("image", "docker:index/remoteImage:RemoteImage", parent="comp"),
        _rec("db", "docker:index/container:Container", parent="comp", deps=("image",)),
        _rec("app", "docker:index/container:Container", deps=("comp",)),  # depends on the component
        _rec("net", "docker:index/network:Network"),
    ]
    path = critical_path(records)
    assert [name for _, name, _ in path.chain] == ["image", "db", "app"]
    assert path.seconds == 120.0


def test_cost_uses_the_price_of_each_provider_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [_rec("gpu", "test:index/gpu:Gpu"), _rec("free", "docker:index/container:Container")]
    records[0].inputs = {"hours": 730}
    gpu = ResourceProfile(
        kind="vm", create_seconds=60.0, price=lambda inputs: (inputs["hours"] * 0.5, "0.50/h"), outputs=no_outputs
    )
    monkeypatch.setitem(RESOURCES, "test:index/gpu:Gpu", gpu)
    cost = estimate(records)  # the container's profile is Free: no line
    assert cost.total == 365.0 and cost.by_type() == {"test:index/gpu:Gpu": 365.0}


def test_review_downgrades_to_advisory_and_honours_overrides(local_run: ProgramRun) -> None:
    advisory = review(local_run.resources, environment="dev", enforcement="advisory")
    from policy import ALL_POLICIES

    assert advisory.mandatory == [] and advisory.rules_evaluated == len(ALL_POLICIES)
    disabled = review(local_run.resources, environment="dev", overrides={"docker-non-root": "disabled"})
    assert not [v for v in disabled.violations if v.rule == "docker-non-root"]
    assert disabled.rules_evaluated == len(ALL_POLICIES) - 1


def test_waivers_are_listed_and_expired_ones_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    waiver = {
        "rule": "docker-non-root",
        "resource": "cogstack-nlp-medcat-trainer",
        "reason": "Image writes under /home/api at start-up; compensated by dropped capabilities.",
        "approvedBy": "officer@hospital.example",
        "expires": "2099-01-01",
    }
    write_stack(
        tmp_path,
        "waived",
        {"policy": {"enforcement": "mandatory", "overrides": {"docker-non-root": "mandatory"}, "waivers": [waiver]}},
    )
    plan = make_plan("waived", tmp_path)
    assert [v.resource_name for v in plan.review.waived] == ["cogstack-nlp-medcat-trainer"]
    assert "officer@hospital.example" in (plan.review.waived[0].waiver or "")
    assert [v.resource_name for v in plan.review.mandatory] == ["cogstack-nlp-trainer-admin"]
    write_stack(tmp_path, "expired", {"policy": {"waivers": [{**waiver, "expires": "2020-01-01"}]}})
    assert main(["--stack", "expired", "--stack-dir", str(tmp_path)]) == EXIT_VIOLATIONS
    out = capsys.readouterr().out
    assert (
        "EXPIRED WAIVER: docker-non-root on cogstack-nlp-medcat-trainer (approved by officer@hospital.example) expired on 2020-01-01"
        in out
    )


def test_waiver_needs_a_known_rule_a_reason_and_an_approver() -> None:
    from tests.conftest import problems, stack_config

    bad = {"rule": "docker-non-rot", "resource": "x", "reason": "short", "approvedBy": "nobody", "expires": "soon"}
    found = problems(stack_config(policy={"waivers": [bad]}))
    keys = sorted(line.split(": ")[0] for line in found)
    assert keys == [f"clinical-platform:policy.waivers[0].{k}" for k in ("approvedBy", "expires", "reason", "rule")]
    assert any("did you mean 'docker-non-root'?" in line for line in found)


def test_a_stack_with_secure_values_plans(tmp_path: Path) -> None:
    """The program itself (not only the plan's own parse) must see secure: keys as secrets."""
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    write_stack(
        tmp_path,
        "sec",
        {"tls": {"mode": "provided", "certificate": cert}, "tlsPrivateKey": {"secure": "v1:abc"}, **WITH_POSTGRES},
    )
    plan = make_plan("sec", tmp_path)
    proxy = next(r for r in plan.run.resources if r.name == "sec-proxy" and r.custom)
    uploads = {u["file"]: u["content"] for u in proxy.inputs["uploads"]}
    assert uploads["/etc/nginx/tls/tls.crt"] == cert
    assert uploads["/etc/nginx/tls/tls.key"] == "offline-plan-secret-placeholder"
    # The given certificate serves the routes: the stack's CA issues only the database's and the TLS sidecars'.
    issued = [r.name for r in plan.run.resources if r.type == "tls:index/locallySignedCert:LocallySignedCert"]
    assert sorted(issued) == [
        "cogstack-nlp-medcat-service-tls-cert",
        "cogstack-nlp-trainer-nginx-tls-cert",
        "therapy-compliance-api-tls-cert",
        "therapy-compliance-db-tls-cert",
    ]


def test_generated_admin_passwords_are_exported_for_operators(local_run: ProgramRun) -> None:
    exported = local_run.exports["adminPasswords"]["cogstack-nlp"]["trainer-admin-password"]
    job = named(local_run, "cogstack-nlp-trainer-admin")
    env = dict(e.split("=", 1) for e in job.inputs["envs"])
    assert exported == env["DJANGO_SUPERUSER_PASSWORD"] and len(exported) == 32


@pytest.mark.parametrize("stack", SHIPPED)
def test_policies_never_crash_on_values_unknown_at_preview(stack: str) -> None:
    """Under `pulumi preview` provider-computed values are unknown; rules report "not run", as the engine does."""
    run = run_program(stack, preview=True)
    # Every rule mandatory, at the stack's own environment (GCP rules read prod from labels and the stack alike).
    environment = str(run.config.get("clinical-platform:environment") or stack)
    waivers = make_plan(stack).config.policy.waivers  # the stack's signed waivers hold in preview too
    result = review(run.resources, environment=environment, enforcement="mandatory", waivers=waivers)
    assert result.not_run, "no rule met an unknown value, so this test exercised nothing"
    assert all("unknown until apply" in note for note in result.not_run)
    # The README lists exactly the rules this stack's preview cannot judge (`make docs` regenerates the table).
    blind = {note.split(":", 1)[0].split(" on ", 1)[0] for note in result.not_run}
    assert blind == preview_blind.documented().get(stack, set()), "README's preview-blind table: run `make docs`"
    # An unknown value never makes a finding: what preview reports, the same review of the applied plan reports too
    # (the real findings: the preview stack has no WAF, staging and staging-eks hold PHI without prod-grade
    # protection of their AWS data stores).
    applied = review(run_program(stack).resources, environment=environment, enforcement="mandatory")
    found = {(v.rule, v.resource_name) for v in result.mandatory}
    assert found <= {(v.rule, v.resource_name) for v in applied.mandatory}
    assert (stack in {"preview", "staging", "staging-eks"}) == bool(found), found
