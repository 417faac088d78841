"""cloud gcp + runtime docker: the shipped GCP stacks as registered, their config errors, and weakened copies."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from offline.artifacts import vm_systems
from offline.harness import ProgramRun, run_program
from offline.plan import EXIT_VIOLATIONS, make_plan
from tests.conftest import of_type, stack_config

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod-gcp")


@pytest.fixture(scope="module")
def staging() -> ProgramRun:
    return run_program("staging-gcp")


def test_data_services_follow_the_resilience_profile(prod: ProgramRun, staging: ProgramRun) -> None:
    for run, regional, protected in ((prod, "REGIONAL", True), (staging, "ZONAL", False)):
        for db in of_type(run, SQL):
            settings = db.inputs["settings"]
            assert settings["availabilityType"] == regional and db.protect is protected
            assert settings["ipConfiguration"]["ipv4Enabled"] is False
            assert settings["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
            assert db.inputs["encryptionKeyName"].endswith("sql-id")
        tiers = {r.inputs["tier"] for r in of_type(run, REDIS)}
        assert tiers == ({"STANDARD_HA"} if protected else {"BASIC"})


def test_every_route_reaches_its_vms_over_tls(prod: ProgramRun) -> None:
    backends = of_type(prod, "gcp:compute/backendService:BackendService")
    assert len(backends) == len(prod.exports["routes"]["stenosis-detection"]) + 2 + 1  # 3 + cogstack 2 + therapy 1
    assert {b.inputs["protocol"] for b in backends} == {"HTTPS"}
    # Each backend's health check probes the routed service's own endpoint through the gateway, not the gateway.
    checks = [c.inputs for c in of_type(prod, "gcp:compute/healthCheck:HealthCheck")]
    assert checks and {c["httpsHealthCheck"]["requestPath"] for c in checks} == {"/healthz/upstream"}
    for vm in vm_systems(prod):
        compose = vm.compose["services"]
        # Only the gateway publishes ports on the VM; every service sits behind it.
        published = {name for name, entry in compose.items() if entry.get("ports")}
        assert published == {"auth-gateway"}, (vm.name, published)
        conf = vm.service_files("auth-gateway")["/etc/nginx/nginx.conf"]
        assert "listen 8081 ssl;" in conf and "ssl_protocols TLSv1.2 TLSv1.3;" in conf
        assert conf.count("location = /healthz/upstream {") == conf.count("listen "), vm.name
        # Its probe speaks TLS too: nginx answers plain HTTP on a TLS port with 400 (the gateway was never healthy).
        probe = compose["auth-gateway"]["healthcheck"]["test"]
        assert probe[-1] == "https://127.0.0.1:8081/healthz" and "--no-check-certificate" in probe, probe
        assert "openssl req -x509" in vm.files["/opt/clinical/fetch-secrets.sh"]
        assert "gcloud secrets versions access latest" in vm.files["/opt/clinical/fetch-secrets.sh"]


def test_user_data_holds_no_secret_and_the_secret_holds_the_values(prod: ProgramRun) -> None:
    for template in of_type(prod, TEMPLATE):
        user_data = template.inputs["metadata"]["user-data"]
        assert "offline-plan-secret-placeholder" not in user_data and "PRIVATE KEY" not in user_data
        assert template.inputs["metadata"]["enable-oslogin"] == "TRUE"
    secrets = {
        r.name: json.loads(r.inputs["secretData"])
        for r in of_type(prod, "gcp:secretmanager/secretVersion:SecretVersion")
    }
    runtimes = {"cogstack-nlp-runtime", "stenosis-detection-runtime", "therapy-compliance-runtime"}
    # Besides the runtime secrets: the application and monitoring roles' passwords, per database.
    assert set(secrets) == runtimes | {"stenosis-detection-db-roles", "therapy-compliance-db-roles"}
    assert set(secrets["therapy-compliance-db-roles"]) == {"compliance_app", "compliance_monitor"}
    assert secrets["stenosis-detection-runtime"]["env"]["backend"]["DATABASE_URL"].startswith(
        "postgresql+asyncpg://stenosis_user_app:"
    )


def test_memorystore_ca_reaches_every_client(prod: ProgramRun) -> None:
    # Both of the system's VM groups (the state VM and the scale-out VMs) run clients of the broker.
    vms = [vm for vm in vm_systems(prod) if vm.name == "stenosis-detection"]
    assert len(vms) == 2
    clients = [(vm, s) for vm in vms for s in ("backend", "worker") if s in vm.compose["services"]]
    assert {s for _, s in clients} == {"backend", "worker"}
    for vm, service in clients:
        files = vm.service_files(service)
        assert files["/etc/clinical/redis-ca/broker.pem"].startswith("-----BEGIN CERTIFICATE-----")
        mounts = vm.compose["services"][service]["volumes"]
        assert any(m.endswith("/etc/clinical/redis-ca/broker.pem:/etc/clinical/redis-ca/broker.pem:ro") for m in mounts)


def test_outputs_name_the_load_balancer_and_the_machines(prod: ProgramRun) -> None:
    assert prod.exports["loadBalancerIp"].count(".") == 3
    machines = prod.exports["machines"]
    assert set(machines) == {"cogstack-nlp", "stenosis-detection", "therapy-compliance"}
    stenosis = machines["stenosis-detection"]
    # The state VM (Prometheus and Grafana beside everything else) and one scale-out VM.
    assert stenosis["count"] == 1 and stenosis["scaleOut"]["count"] == 1
    assert stenosis["guidePick"]["machineType"] == "n1-standard-8+t4"
    assert stenosis["usdPerHour"] > 0 and stenosis["needs"]["gpu"]["count"] == 1


def test_a_weakened_cloud_sql_instance_fails_the_prod_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_gcp as gcp

    original = gcp.sql.DatabaseInstance

    def public(name: str, **kwargs: Any) -> Any:
        settings = kwargs["settings"]
        settings.ip_configuration.ipv4_enabled = True
        settings.ip_configuration.ssl_mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
        return original(name, **kwargs)

    monkeypatch.setattr(gcp.sql, "DatabaseInstance", public)
    plan = make_plan("prod-gcp")
    assert plan.exit_code == EXIT_VIOLATIONS
    failed = {v.rule for v in plan.review.mandatory}
    assert {"gcp-sql-not-public", "gcp-sql-tls-required"} <= failed


def test_a_world_open_firewall_fails_the_prod_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_gcp as gcp

    original = gcp.compute.Firewall

    def opened(name: str, **kwargs: Any) -> Any:
        if kwargs.get("direction") != "EGRESS" and kwargs.get("allows"):
            kwargs["source_ranges"] = ["0.0.0.0/0"]
        return original(name, **kwargs)

    monkeypatch.setattr(gcp.compute, "Firewall", opened)
    plan = make_plan("prod-gcp")
    assert "gcp-firewall-no-world-ingress" in {v.rule for v in plan.review.mandatory}


@pytest.mark.parametrize(
    ("changes", "provider", "expected"),
    [
        ({}, {"gcp:region": "europe-west2"}, "gcp:project is required for cloud 'gcp'"),
        ({}, {"gcp:project": "Bad_Project", "gcp:region": "europe-west2"}, "is not a GCP project id"),
        ({}, {"gcp:project": "clinical-x1"}, "gcp:region is required for cloud 'gcp'"),
        ({}, {"gcp:project": "clinical-x1", "gcp:region": "mars"}, "is not a GCP region name"),
        (
            {"allowedRegions": ["europe-west2"]},
            {"gcp:project": "clinical-x1", "gcp:region": "us-central1"},
            "outside allowedRegions",
        ),
        (
            {},
            {"gcp:project": "clinical-x1", "gcp:region": "europe-west1"},
            "are catalogued for europe-west2 only",
        ),
        (
            {"tls": {"mode": "acm"}},
            {"gcp:project": "clinical-x1", "gcp:region": "europe-west2"},
            "set tls.mode: google-managed",
        ),
        (
            {"gcp": {"spot": True}, "environment": "prod"},
            {"gcp:project": "clinical-x1", "gcp:region": "europe-west2"},
            "gcp.spot is for review stacks",
        ),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"model": "a100"}}}}}},
            {"gcp:project": "clinical-x1", "gcp:region": "europe-west2"},
            "offers no 'a100' GPU for VMs; choose one of",
        ),
    ],
)
def test_gcp_config_errors(changes: dict[str, Any], provider: dict[str, str], expected: str) -> None:
    from stacks.config import ConfigError, parse_stack_config

    raw = stack_config(cloud="gcp", backup=None, **{"tls": {"mode": "google-managed"}, **changes})
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(encoded, set(), "dev", provider)
    assert len(caught.value.problems) == 1 and expected in caught.value.problems[0], caught.value.problems


def test_gcp_settings_are_rejected_on_other_clouds() -> None:
    from tests.conftest import problems

    assert problems(stack_config(gcp={"armor": True})) == [
        "clinical-platform: gcp settings are for cloud 'gcp'; remove them or set cloud: gcp"
    ]


def test_the_shipped_gcp_stacks_are_in_europe_west2() -> None:
    from offline.harness import ROOT

    for stack in ("staging-gcp", "prod-gcp"):
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert config["gcp:region"] == "europe-west2" and config["clinical-platform:cloud"] == "gcp"


def test_the_stack_enables_its_apis_before_anything_uses_them(prod: ProgramRun) -> None:
    apis = {r.urn for r in of_type(prod, "gcp:projects/service:Service")}
    assert {r.inputs["service"] for r in of_type(prod, "gcp:projects/service:Service")} >= {
        "compute.googleapis.com",
        "sqladmin.googleapis.com",
        "redis.googleapis.com",
        "servicenetworking.googleapis.com",
        "secretmanager.googleapis.com",
    }
    assert all(r.inputs["disableOnDestroy"] is False for r in of_type(prod, "gcp:projects/service:Service"))
    users = [r for r in prod.resources if r.custom and r.type.startswith("gcp:") and r.urn not in apis]
    late = [r.name for r in users if not apis <= set(r.dependencies)]
    assert users and not late, late
