"""Neurocore: the specs follow the guide (002), the monitoring files, opt-ins, config errors, and a planned stack."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import stacks.config
from components.specs import SystemSpec, deployment_order
from offline.harness import Captured
from offline.plan import EXIT_OK, Plan, make_plan
from stacks.neurocore import GUIDE_ERROR_RATE_EXPR, IMAGES_FROM_CONFIG, SECRETS
from tests.conftest import monitored_spec, of_type, parse, problems, stack_config
from tests.test_plan import write_stack

SYSTEM = "neurocore"
CONTAINER = "docker:index/container:Container"
API_IMAGE = "registry.hospital.example/neurocore/api:1.4.2"
IMAGES = {
    "api": {"image": API_IMAGE},
    "celery-worker": {"image": API_IMAGE},
    "frontend": {"image": "registry.hospital.example/neurocore/frontend:1.4.2"},
}
OPENAI_KEY = "neurocore-openai-api-key"
PROD: dict[str, Any] = {
    "environment": "prod",
    "tls": {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    "tlsPrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
}


def spec(services: dict[str, Any] | None = None, settings: dict[str, Any] | None = None, **changes: Any) -> SystemSpec:
    """The system's spec for a dev stack with the team's images, the OpenAI key and the given overrides."""
    override: dict[str, Any] = {"services": {**IMAGES, **(services or {})}}
    if settings:
        override["settings"] = settings
    raw = stack_config(**{"systems": [SYSTEM], "overrides": {SYSTEM: override}, OPENAI_KEY: "sk-test", **changes})
    secret_keys = [k for k in raw if k in {OPENAI_KEY, "tlsPrivateKey"}]
    return monitored_spec(SYSTEM, parse(raw, secret_keys=secret_keys, stack="x"))


def files_of(s: SystemSpec, service: str) -> dict[str, str]:
    return {f.path: f.content for f in s.service(service).files}


def rules(s: SystemSpec) -> dict[str, dict[str, Any]]:
    """Every alert rule of every rule file on Prometheus, by alert name."""
    found: dict[str, dict[str, Any]] = {}
    for path, content in files_of(s, "prometheus").items():
        if path.startswith("/etc/prometheus/rules/"):
            for group in yaml.safe_load(content)["groups"]:
                found.update({r["alert"]: r for r in group["rules"]})
    return found


def scrape_jobs(s: SystemSpec) -> dict[str, dict[str, Any]]:
    conf = yaml.safe_load(files_of(s, "prometheus")["/etc/prometheus/prometheus.yml"])
    return {job["job_name"]: job for job in conf["scrape_configs"]}


def mounts(s: SystemSpec, service: str) -> dict[str, str]:
    return {m.host_path: m.mount_path for m in s.service(service).host_mounts}


# --- the specs against the guide ------------------------------------------------------------


def test_services_ports_and_pinned_images() -> None:
    s = spec()
    assert {svc.name: svc.port for svc in s.services} == {
        "migrate": None,
        "api": 8002,
        "celery-worker": None,
        "flower": 5555,
        "frontend": 3002,
        "prometheus": 9090,
        "alertmanager": 9093,
        "grafana": 3000,
        "loki": 3100,
        "cadvisor": 8080,
        "node-exporter": 9100,
        "postgres-exporter": 9187,
        "log-collector": 24224,  # Fluentd's forward protocol, from Docker's daemon
        # Added by the registry's last step (stacks.alerts): health probes and route certificates.
        "blackbox-exporter": 9115,
    }
    assert s.service("api").image == s.service("celery-worker").image == s.service("migrate").image == API_IMAGE
    assert s.service("frontend").image == "registry.hospital.example/neurocore/frontend:1.4.2"
    public = {svc.name: svc.image for svc in s.services if svc.name not in {*IMAGES_FROM_CONFIG, "migrate"}}
    assert public == {
        "flower": "mher/flower:2.0.1",
        "prometheus": "prom/prometheus:v2.55.1",
        "alertmanager": "prom/alertmanager:v0.27.0",
        "grafana": "grafana/grafana:11.4.0",
        "loki": "grafana/loki:3.3.2",
        "cadvisor": "gcr.io/cadvisor/cadvisor:v0.49.1",
        "node-exporter": "prom/node-exporter:v1.8.2",
        "blackbox-exporter": "prom/blackbox-exporter:v0.25.0",
        "postgres-exporter": "prometheuscommunity/postgres-exporter:v0.15.0",
        "log-collector": "timberio/vector:0.43.1-alpine",
    }


def test_the_team_images_and_the_openai_key_are_required() -> None:
    raw = stack_config(systems=[SYSTEM])
    found = problems(raw)
    for svc in ("api", "celery-worker", "frontend"):
        assert any(
            line.startswith(f"clinical-platform:overrides.neurocore.services.{svc}.image: required") for line in found
        )
    assert any(line.startswith(f"clinical-platform:{OPENAI_KEY}: required (OpenAI API key") for line in found)
    assert len(found) == 4, found
    assert {(x.name, x.source, x.required) for x in SECRETS if x.source == "config"} == {
        ("openai-api-key", "config", True),
        ("smtp-password", "config", False),
    }


def test_unknown_settings_and_debug_logging_are_rejected() -> None:
    raw = stack_config(systems=[SYSTEM], overrides={SYSTEM: {"services": IMAGES, "settings": {"debug": True}}})
    found = problems({**raw, OPENAI_KEY: "sk"}, secret_keys=[OPENAI_KEY])
    assert len(found) == 1 and found[0].startswith("clinical-platform:overrides.neurocore.settings.debug: unknown")
    raw = stack_config(systems=[SYSTEM], overrides={SYSTEM: {"services": IMAGES, "settings": {"logLevel": "DEBUG"}}})
    found = problems({**raw, OPENAI_KEY: "sk"}, secret_keys=[OPENAI_KEY])
    assert len(found) == 1 and found[0].startswith("clinical-platform:overrides.neurocore.settings.logLevel:")
    raw = stack_config(
        systems=[SYSTEM], overrides={SYSTEM: {"services": IMAGES, "settings": {"hostDiskPath": "/var/.."}}}
    )
    found = problems({**raw, OPENAI_KEY: "sk"}, secret_keys=[OPENAI_KEY])
    assert found == [
        "clinical-platform:overrides.neurocore.settings.hostDiskPath: '/var/..' has a '..' segment; give the path without it"
    ]


def test_postgres_15_with_pgvector_and_a_queue_safe_redis() -> None:
    s = spec()
    db = next(p for p in s.postgres if p.name == "postgres")
    assert (db.version, db.extensions, db.database, db.user) == (
        "15",
        ("vector",),
        "neurosurgery_kb",
        "neurosurgery_admin",
    )
    assert db.max_connections == 300
    grafana_db = next(p for p in s.postgres if p.name == "grafana-db")
    assert grafana_db.extensions == () and grafana_db.database == "grafana"
    (redis,) = s.redis
    assert redis.version.startswith("7") and redis.eviction_policy == "noeviction" and redis.persistence
    assert redis.memory_mb == 2048


def test_migrations_run_once_before_the_api_and_the_workers() -> None:
    s = spec()
    migrate = s.service("migrate")
    assert migrate.kind == "job" and migrate.command == ("alembic", "upgrade", "head")
    assert migrate.env["DATABASE_URL"] == "${postgres:postgres.url}"
    assert s.service("api").depends_on == ("migrate",) and s.service("celery-worker").depends_on == ("migrate",)
    order = [svc.name for svc in deployment_order(s)]
    assert order.index("migrate") < order.index("api") < order.index("frontend")
    assert order.index("migrate") < order.index("celery-worker")


def test_api_and_workers_run_for_production() -> None:
    s = spec()
    api = s.service("api")
    assert api.command is not None and api.command[:6] == (
        "uvicorn",
        "backend.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8002",
    )
    assert "--reload" not in api.command and "--proxy-headers" in api.command
    assert api.command[api.command.index("--workers") + 1] == "4"
    assert api.health is not None and "http://127.0.0.1:8002/health" in " ".join(api.health.command or ())
    assert api.metrics_path == "/metrics" and api.user == "1000:1000" and api.egress
    env = api.env
    assert env["DEBUG"] == "false" and env["LOG_LEVEL"] == "INFO"
    assert env["SECRET_KEY"] == "${secret:secret-key}" and env["OPENAI_API_KEY"] == "${secret:openai-api-key}"
    assert env["DB_PASSWORD"] == "${postgres:postgres.password}" and env["DB_NAME"] == "${postgres:postgres.database}"
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"] == "${redis:redis.url}"
    assert env["FRONTEND_URL"] == "${route:app.url}" and env["API_URL"] == "${route:api.url}"
    assert not any(key.startswith("SMTP_") for key in env)
    worker = s.service("celery-worker")
    assert worker.command == (
        "celery",
        "-A",
        "backend.services.celery_app",
        "worker",
        "--loglevel=INFO",
        "--concurrency=4",
        "--task-events",
    )
    assert worker.env == env
    assert (
        {v.mount_path for v in api.volumes}
        == {v.mount_path for v in worker.volumes}
        == {
            "/data/pdfs",
            "/data/images",
            "/app/logs",
        }
    )
    settings = {"workerQueues": "default,images", "workerConcurrency": 2, "apiPort": 8000, "apiModule": "app.main:app"}
    tuned = spec(settings=settings)
    assert tuned.service("celery-worker").command[-2:] == ("--queues", "default,images")  # type: ignore[index]
    assert "--concurrency=2" in (tuned.service("celery-worker").command or ())
    assert tuned.service("api").port == 8000 and (tuned.service("api").command or ())[1] == "app.main:app"


def test_resource_limits_follow_the_production_compose() -> None:
    small, medium = spec(), spec(sizing="medium")
    api, worker = small.service("api").resources, small.service("celery-worker").resources
    assert (api.cpus, api.memory_mb) == (2, 2048) and (worker.cpus, worker.memory_mb) == (1.5, 2048)
    assert (medium.service("api").resources.cpus, medium.service("api").resources.memory_mb) == (4, 4096)
    assert (small.service("flower").resources.cpus, small.service("flower").resources.memory_mb) == (0.5, 512)
    assert small.service("frontend").resources.memory_mb == 256


def test_api_and_workers_scale_and_the_replicas_are_overridable() -> None:
    assert spec().service("api").replicas == 1 and spec().service("celery-worker").replicas == 1
    prod = spec(**PROD)
    assert prod.service("api").replicas == 2 and prod.service("celery-worker").replicas == 2
    scaled = spec(services={"api": {**IMAGES["api"], "replicas": 3}, "celery-worker": {**IMAGES["api"], "replicas": 5}})
    assert scaled.service("api").replicas == 3 and scaled.service("celery-worker").replicas == 5
    # Prometheus finds every replica by DNS, so scaling needs no change to its configuration.
    assert scrape_jobs(scaled)["api"]["dns_sd_configs"] == [{"names": ["api"], "type": "A", "port": 8002}]


def test_routes_put_flower_and_grafana_behind_the_proxy_and_leave_prometheus_unrouted() -> None:
    s = spec()
    assert {(r.host, r.service, r.auth) for r in s.routes} == {
        ("neurocore", "frontend", "app"),
        ("neurocore-api", "api", "app"),
        ("neurocore-flower", "flower", "basic"),
        ("neurocore-grafana", "grafana", "basic"),
    }
    routed = spec(settings={"routeMonitoringUis": True})
    extra = {(r.host, r.auth) for r in routed.routes} - {(r.host, r.auth) for r in s.routes}
    assert extra == {("neurocore-prometheus", "basic"), ("neurocore-alertmanager", "basic")}


def test_the_guide_alert_rule_is_carried_verbatim_and_every_rule_is_complete() -> None:
    found = rules(spec())
    guide = found["HighErrorRate"]
    assert guide["expr"] == GUIDE_ERROR_RATE_EXPR == 'rate(http_requests_total{status=~"5.."}[5m]) > 0.05'
    assert guide["for"] == "5m" and guide["labels"] == {"severity": "critical"}
    assert guide["annotations"]["summary"] == "High error rate detected"
    assert {"ApiDown", "HighResponseTime", "CeleryWorkersOffline", "PostgresDown", "HostDiskSpaceLow"} <= set(found)
    jobs = scrape_jobs(spec())
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"warning", "critical"} and rule["annotations"]["summary"], name
        assert re.fullmatch(r"\d+m", rule["for"]), name
        for job in re.findall(r'job!?="([^"]+)"', rule["expr"]):
            assert job in jobs, f"{name} names job {job}, which Prometheus does not scrape"


def test_prometheus_scrapes_every_metrics_service_by_name_and_loads_the_rule_files() -> None:
    s = spec()
    conf = yaml.safe_load(files_of(s, "prometheus")["/etc/prometheus/prometheus.yml"])
    jobs = scrape_jobs(s)
    with_metrics = {svc.name for svc in s.services if svc.metrics_path}
    assert {"probe-health", "probe-tls"} <= set(jobs)
    assert (
        set(jobs) - {"probe-health", "probe-tls"}
        == with_metrics
        == {
            "api",
            "flower",
            "prometheus",
            "alertmanager",
            "grafana",
            "loki",
            "cadvisor",
            "node-exporter",
            "postgres-exporter",
            "blackbox-exporter",
        }
    )
    for name, job in jobs.items():
        if name.startswith("probe-"):
            continue
        if name == "prometheus":
            assert job["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]
            continue
        # The service's DNS alias on the system's backend network, and its own port.
        assert job["dns_sd_configs"] == [{"names": [name], "type": "A", "port": s.service(name).port}], name
        assert job["metrics_path"] == s.service(name).metrics_path
    assert conf["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
    assert conf["global"]["external_labels"] == {"system": "neurocore", "environment": "dev"}
    (glob,) = conf["rule_files"]
    rule_files = [p for p in files_of(s, "prometheus") if p != "/etc/prometheus/prometheus.yml"]
    assert rule_files and all(Path(p).match(glob) for p in rule_files)
    prometheus = s.service("prometheus")
    assert "--storage.tsdb.retention.time=30d" in (prometheus.command or ())
    assert not any("enable-lifecycle" in arg for arg in prometheus.command or ())


def test_grafana_is_provisioned_hardened_and_keeps_its_state_in_postgres() -> None:
    s = spec()
    sources = yaml.safe_load(files_of(s, "grafana")["/etc/grafana/provisioning/datasources/neurocore.yml"])
    assert {d["type"]: d["url"] for d in sources["datasources"]} == {
        "prometheus": "http://prometheus:9090",
        "loki": "http://loki:3100",
        "alertmanager": "http://alertmanager:9093",
    }
    assert all(d["editable"] is False for d in sources["datasources"])
    env = s.service("grafana").env
    assert env["GF_SECURITY_ADMIN_USER"] == "neurocore-admin"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${secret:grafana-admin-password}"
    assert env["GF_SECURITY_SECRET_KEY"] == "${secret:grafana-secret-key}"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_COOKIE_SECURE"] == "true" and env["GF_SERVER_ROOT_URL"] == "${route:grafana.url}"
    assert env["GF_DATABASE_TYPE"] == "postgres" and env["GF_DATABASE_PASSWORD"] == "${postgres:grafana-db.password}"
    loki = yaml.safe_load(files_of(s, "loki")["/etc/loki/loki.yaml"])
    assert loki["compactor"]["retention_enabled"] is True and loki["limits_config"]["retention_period"] == "744h"
    assert loki["analytics"] == {"reporting_enabled": False} and loki["auth_enabled"] is False


def test_host_mounts_are_minimal_and_need_no_waiver_by_default() -> None:
    s = spec()
    with_mounts = {svc.name for svc in s.services if svc.host_mounts}
    assert with_mounts == {"cadvisor", "node-exporter"}
    assert mounts(s, "cadvisor") == {"/sys/fs/cgroup": "/sys/fs/cgroup"}
    assert mounts(s, "node-exporter") == {"/proc": "/host/proc", "/sys": "/host/sys", "/var/lib/docker": "/host/root"}
    flagged = {"/", "/var/run/docker.sock", "/run/docker.sock"}
    assert not any(
        m.host_path.rstrip("/") in flagged or m.host_path == "/" for svc in s.services for m in svc.host_mounts
    )
    assert s.service("cadvisor").user == s.service("node-exporter").user == "65534:65534"
    assert "--no-collector.netdev" in (s.service("node-exporter").command or ())
    assert "--collector.filesystem.mount-points-exclude=^/.+" in (s.service("node-exporter").command or ())


def test_opt_ins_add_the_flagged_mounts() -> None:
    named = spec(settings={"cadvisorContainerNames": True}).service("cadvisor")
    assert {m.host_path for m in named.host_mounts} == {"/sys/fs/cgroup", "/var/run/docker.sock", "/var/lib/docker"}
    assert named.user is None  # the socket is root:docker 0660
    whole = spec(settings={"hostDiskPath": "/"}).service("node-exporter")
    assert {m.host_path: m.mount_path for m in whole.host_mounts}["/"] == "/host/root"
    assert "--collector.filesystem.mount-points-exclude=^/.+" not in (whole.command or ())
    assert "--no-collector.os" not in (whole.command or ()) and "--no-collector.os" in (
        spec().service("node-exporter").command or ()
    )
    removed = problems(
        stack_config(**{"systems": [SYSTEM], "overrides": {SYSTEM: {"settings": {"shipContainerLogs": True}}}})
    )
    assert any("shipContainerLogs was removed" in p and "delete the key" in p for p in removed), removed


def test_smtp_of_the_app_and_receivers_of_the_stack() -> None:
    s = spec()
    am = yaml.safe_load(files_of(s, "alertmanager")["/etc/alertmanager/alertmanager.yml"])
    # The stack's receivers (tests' BASE: an e-mail relay without login), not a per-system setting.
    assert am["receivers"][0]["email_configs"][0]["to"] == "oncall@hospital.example"
    assert s.service("alertmanager").egress is True
    configured = spec(settings={"smtpHost": "smtp.hospital.example", "smtpUser": "neurocore"})
    env = configured.service("api").env
    assert env["SMTP_HOST"] == "smtp.hospital.example" and env["SMTP_PASSWORD"] == "${secret:smtp-password}"


# --- the system planned on a local Docker stack -----------------------------------------------


WAIVER = {
    "rule": "docker-no-privileged-container",
    "resource": "neurocore-cadvisor",
    "reason": "cAdvisor reads the Docker socket for container names only; no published port, all capabilities "
    "dropped, no egress, reachable only by Prometheus on the system's internal network.",
    "approvedBy": "security-officer@hospital.example",
    "expires": "2099-06-30",
}


def plan_for(
    tmp: Path, name: str, settings: dict[str, Any] | None = None, waivers: tuple[dict[str, Any], ...] = ()
) -> Plan:
    """Plan Pulumi.local.yaml with CogStack and Neurocore, the team's images, the OpenAI key, enforcement mandatory."""
    local = yaml.safe_load((Path(stacks.config.__file__).parent.parent / "Pulumi.local.yaml").read_text())
    policy = local["config"]["clinical-platform:policy"]
    override: dict[str, Any] = {"services": IMAGES, **({"settings": settings} if settings else {})}
    write_stack(
        tmp,
        name,
        {
            "systems": ["cogstack-nlp", SYSTEM],
            "overrides": {SYSTEM: override},
            OPENAI_KEY: {"secure": "v1:encrypted-openai-key"},
            "policy": {**policy, "enforcement": "mandatory", "waivers": [*policy.get("waivers", []), *waivers]},
        },
    )
    return make_plan(name, tmp)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plan]:
    yield plan_for(tmp_path_factory.mktemp("neurocore"), "nctest")


def container(p: Plan, name: str) -> Captured:
    (found,) = [c for c in of_type(p.run, CONTAINER) if c.name == name]
    return found


def env_of(c: Captured) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in c.inputs["envs"])


def upload(c: Captured, path: str) -> str:
    return next(str(u["content"]) for u in c.inputs["uploads"] if u["file"] == path)


def server_block(conf: str, fqdn: str) -> str:
    start = conf.index(f"server_name {fqdn};")
    end = conf.find("    server {", start)
    return conf[start : end if end != -1 else len(conf)]


def test_planned_with_zero_mandatory_violations_and_no_finding_on_neurocore(plan: Plan) -> None:
    assert plan.review.mandatory == [], [v.message for v in plan.review.mandatory]
    assert plan.exit_code == EXIT_OK and plan.review.expired_waivers == []
    assert [v.message for v in plan.review.violations if v.resource_name.startswith("neurocore")] == []
    assert plan.run.exports["routes"][SYSTEM] == [
        "https://neurocore.clinical.localhost",
        "https://neurocore-api.clinical.localhost",
        "https://neurocore-flower.clinical.localhost",
        "https://neurocore-grafana.clinical.localhost",
    ]


def test_every_service_and_data_store_runs_as_a_container(plan: Plan) -> None:
    names = {c.name for c in of_type(plan.run, CONTAINER) if c.name.startswith("neurocore")}
    assert names == {
        "neurocore-migrate",
        "neurocore-api",
        "neurocore-celery-worker",
        "neurocore-flower",
        "neurocore-frontend",
        # The TLS sidecars of the routed services (they handle PHI).
        "neurocore-api-tls",
        "neurocore-flower-tls",
        "neurocore-frontend-tls",
        "neurocore-grafana-tls",
        "neurocore-prometheus",
        "neurocore-alertmanager",
        "neurocore-grafana",
        "neurocore-loki",
        "neurocore-cadvisor",
        "neurocore-node-exporter",
        "neurocore-postgres-exporter",
        "neurocore-log-collector",
        "neurocore-blackbox-exporter",
        "neurocore-postgres",
        "neurocore-grafana-db",
        "neurocore-redis",
        "neurocore-backup",
        "neurocore-backup-api",
        "neurocore-backup-prometheus",
        "neurocore-backup-alertmanager",
        "neurocore-backup-grafana",
        "neurocore-backup-loki",
    }
    published = {c.name: c.inputs["ports"] for c in of_type(plan.run, CONTAINER) if c.inputs.get("ports")}
    assert set(published) == {"nctest-proxy", "neurocore-log-collector"}
    # The collector only for Docker's daemon, on the host's loopback.
    assert published["neurocore-log-collector"] == [{"internal": 24224, "external": 24224, "ip": "127.0.0.1"}]


def test_prometheus_container_carries_its_config_and_the_rule_files(plan: Plan) -> None:
    prometheus = container(plan, "neurocore-prometheus")
    files = {u["file"] for u in prometheus.inputs["uploads"]}
    assert files == {
        "/etc/prometheus/prometheus.yml",
        "/etc/prometheus/rules/application.yml",
        "/etc/prometheus/rules/host.yml",
        "/etc/prometheus/rules/platform.yml",
    }
    assert GUIDE_ERROR_RATE_EXPR in upload(prometheus, "/etc/prometheus/rules/application.yml")
    assert "- alertmanager:9093" in upload(prometheus, "/etc/prometheus/prometheus.yml")
    assert prometheus.inputs["user"] == "65534:65534"
    networks = {n["name"] for n in prometheus.inputs["networksAdvanced"]}
    assert networks == {"neurocore-backend"}  # not routed: never on the proxy's network


def test_postgres_runs_the_pgvector_image_and_creates_the_extension(plan: Plan) -> None:
    db = container(plan, "neurocore-postgres")
    assert db.inputs["image"] == "pgvector/pgvector:0.8.0-pg15"
    assert 'CREATE EXTENSION IF NOT EXISTS "vector";' in upload(db, "/docker-entrypoint-initdb.d/10-extensions.sql")
    assert "max_connections=300" in db.inputs["command"]
    assert container(plan, "neurocore-grafana-db").inputs["image"] == "postgres:15.10"
    # PostgreSQL gets 2 CPUs and 2 GiB (a platform choice: the guide gives no size); Grafana's keeps the default.
    assert (db.inputs["cpus"], db.inputs["memory"]) == ("2.0", 2048)
    assert container(plan, "neurocore-grafana-db").inputs["memory"] == 1024


def test_the_api_waits_for_the_migrations_job(plan: Plan) -> None:
    migrate = container(plan, "neurocore-migrate")
    assert migrate.inputs["command"] == ["alembic", "upgrade", "head"]
    assert migrate.inputs["mustRun"] is False and migrate.inputs["restart"] == "no"
    assert migrate.urn in container(plan, "neurocore-api").dependencies
    assert migrate.urn in container(plan, "neurocore-celery-worker").dependencies
    assert container(plan, "neurocore-postgres").urn in migrate.dependencies


def test_the_proxy_guards_flower_and_grafana_and_leaves_the_app_login_to_the_app(plan: Plan) -> None:
    conf = upload(container(plan, "nctest-proxy"), "/etc/nginx/nginx.conf")
    for host in ("neurocore-flower", "neurocore-grafana"):
        block = server_block(conf, f"{host}.clinical.localhost")
        assert "auth_basic_user_file /etc/nginx/auth/neurocore.htpasswd;" in block
    for host, port in (("neurocore", 3002), ("neurocore-api", 8002)):
        block = server_block(conf, f"{host}.clinical.localhost")
        sidecar = container(plan, f"neurocore-{'frontend' if port == 3002 else 'api'}-tls")
        assert "auth_basic" not in block and f"https://{sidecar.name}:8443" in block
        assert f":{port};" in upload(sidecar, "/etc/nginx/nginx.conf")
    assert "client_max_body_size 100m" in server_block(conf, "neurocore-api.clinical.localhost")
    assert "neurocore-prometheus" not in conf and "neurocore-alertmanager" not in conf


def test_secrets_are_generated_or_from_config_and_encrypted_in_state(plan: Plan) -> None:
    grafana = container(plan, "neurocore-grafana")
    env = env_of(grafana)
    assert len(env["GF_SECURITY_ADMIN_PASSWORD"]) == 32 and env["GF_SECURITY_ADMIN_PASSWORD"] != "admin"
    assert env["GF_DATABASE_HOST"] == "grafana-db:5432" and "envs" in grafana.additional_secret_outputs
    api = container(plan, "neurocore-api")
    api_env = env_of(api)
    assert len(api_env["SECRET_KEY"]) == 64 and api_env["DEBUG"] == "false"
    assert api_env["OPENAI_API_KEY"] == "offline-plan-secret-placeholder"
    assert api_env["DATABASE_URL"].startswith("postgresql://neurosurgery_admin:")
    assert "@postgres:5432/neurosurgery_kb" in api_env["DATABASE_URL"] and "envs" in api.additional_secret_outputs


def test_host_mounts_are_read_only_and_the_volumes_persist(plan: Plan) -> None:
    cadvisor = container(plan, "neurocore-cadvisor")
    assert [v for v in cadvisor.inputs["volumes"] if v.get("hostPath")] == [
        {"hostPath": "/sys/fs/cgroup", "containerPath": "/sys/fs/cgroup", "readOnly": True}
    ]
    node = container(plan, "neurocore-node-exporter")
    assert {v["hostPath"]: v["readOnly"] for v in node.inputs["volumes"]} == {
        "/proc": True,
        "/sys": True,
        "/var/lib/docker": True,
    }
    api_volumes = {v["containerPath"]: v["volumeName"] for v in container(plan, "neurocore-api").inputs["volumes"]}
    assert api_volumes == {
        "/data/pdfs": "neurocore-pdfs",
        "/data/images": "neurocore-images",
        "/app/logs": "neurocore-logs",
    }


def test_the_docker_socket_opt_in_is_critical_until_waived(tmp_path: Path) -> None:
    settings = {"cadvisorContainerNames": True}
    flagged = plan_for(tmp_path, "socket", settings)
    assert [(v.rule, v.resource_name, v.severity) for v in flagged.review.mandatory] == [
        ("docker-no-privileged-container", "neurocore-cadvisor", "critical")
    ]
    assert "/var/run/docker.sock" in flagged.review.mandatory[0].message
    waived = plan_for(tmp_path, "waived", settings, (WAIVER,))
    assert waived.review.mandatory == [] and waived.exit_code == EXIT_OK
    assert "neurocore-cadvisor" in [v.resource_name for v in waived.review.waived]


def test_a_mount_of_the_host_root_is_critical(tmp_path: Path) -> None:
    flagged = plan_for(tmp_path, "root", {"hostDiskPath": "/"})
    assert [(v.rule, v.resource_name) for v in flagged.review.mandatory] == [
        ("docker-no-privileged-container", "neurocore-node-exporter")
    ]
