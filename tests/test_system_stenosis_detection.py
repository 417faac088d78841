"""Stenosis detection: the specs follow the guide (001), GPU on and off, config errors, and a planned local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import GpuSpec, SystemSpec
from offline.harness import Captured
from offline.plan import EXIT_OK, Plan, make_plan
from stacks.stenosis_detection import RULES_PATH, alert_rules, frontend_nginx_conf, grafana_datasource
from tests.conftest import monitored_spec, of_type, parse, problems, stack_config
from tests.test_plan import write_stack

SYSTEM = "stenosis-detection"
CONTAINER = "docker:index/container:Container"
IMAGES = {
    "backend": {"image": "registry.example/stenosis-backend:1.4.0"},
    "worker": {"image": "registry.example/stenosis-worker:1.4.0"},
    "frontend": {"image": "registry.example/stenosis-frontend:1.4.0"},
}
HOST_GPUS = {"model": "t4", "count": 1}
PROD: dict[str, Any] = {
    "environment": "prod",
    "tls": {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    "tlsPrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
}


def spec(services: dict[str, Any] | None = None, settings: dict[str, Any] | None = None, **changes: Any) -> SystemSpec:
    """The system's spec for a dev stack with a T4 on the host, the team's images and the given overrides."""
    override: dict[str, Any] = {"services": {**IMAGES, **(services or {})}}
    if settings:
        override["settings"] = settings
    raw = stack_config(**{"systems": [SYSTEM], "hostGpus": HOST_GPUS, "overrides": {SYSTEM: override}, **changes})
    return monitored_spec(SYSTEM, parse(raw, secret_keys=[k for k in raw if k == "tlsPrivateKey"], stack="x"))


def env_of(container: Captured) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.inputs["envs"])


def container(plan: Plan, name: str) -> Captured:
    """The container called ``name`` (networks may share a service's name)."""
    (found,) = [c for c in of_type(plan.run, CONTAINER) if c.name == name]
    return found


def upload(c: Captured, path: str) -> str:
    return next(str(u["content"]) for u in c.inputs["uploads"] if u["file"] == path)


def server_block(conf: str, fqdn: str) -> str:
    """The proxy's server block for ``fqdn``."""
    start = conf.index(f"server_name {fqdn};")
    end = conf.find("    server {", start)
    return conf[start : end if end != -1 else len(conf)]


# --- the specs against the guide ------------------------------------------------------------


def test_services_ports_and_images() -> None:
    s = spec()
    ports = {svc.name: svc.port for svc in s.services}
    assert ports == {
        "db-init": None,
        "backend": 8000,
        "worker": None,
        "frontend": 8080,
        "prometheus": 9090,
        "grafana": 3000,
        "redis-exporter": 9121,
        # Added by the registry's last step (stacks.alerts) to every system.
        "alertmanager": 9093,
        "blackbox-exporter": 9115,
        "node-exporter": 9100,
        "gpu-exporter": 9835,
    }
    assert s.service("backend").image == "registry.example/stenosis-backend:1.4.0"
    assert s.service("worker").image == "registry.example/stenosis-worker:1.4.0"
    assert s.service("frontend").image == "registry.example/stenosis-frontend:1.4.0"
    assert s.service("db-init").image == s.service("backend").image and s.service("db-init").kind == "job"
    assert s.service("prometheus").image == "prom/prometheus:v2.55.1"
    assert s.service("grafana").image == "grafana/grafana:11.4.0"


def test_backend_runs_uvicorn_for_production_with_the_guide_health_check() -> None:
    backend = spec().service("backend")
    assert backend.command is not None
    assert backend.command[:6] == ("uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000")
    assert "--reload" not in backend.command and "--proxy-headers" in backend.command
    assert backend.command[backend.command.index("--workers") + 1] == "2"
    health = backend.health
    assert health is not None and health.http_path == "/health"
    assert (health.interval_s, health.timeout_s, health.retries, health.start_period_s) == (30, 10, 3, 5)
    assert backend.metrics_path == "/metrics"
    assert backend.depends_on == ("db-init",)


def test_backend_env_follows_the_guide_production_changes() -> None:
    env = spec().service("backend").env
    assert env["DEBUG"] == "False"
    assert env["SECRET_KEY"] == "${secret:secret-key}"
    assert env["DATABASE_URL"] == "${postgres:db.async_url}"
    assert env["BACKEND_CORS_ORIGINS"] == '["${route:web.url}"]'
    assert env["REDIS_URL"] == env["CELERY_BROKER_URL"] == "${redis:broker.url}"
    assert env["S3_UPLOADS_BUCKET"] == "${bucket:uploads.name}"
    assert env["S3_RESULTS_BUCKET"] == "${bucket:results.name}"
    assert env["AWS_SECRET_ACCESS_KEY"] == "${bucket:uploads.secret_key}"
    assert env["TMPDIR"] == "/app/data"


def test_db_init_runs_the_guide_init_db_once() -> None:
    job = spec().service("db-init")
    assert job.command == (
        "python",
        "-c",
        "from app.core.database import init_db; import asyncio; asyncio.run(init_db())",
    )
    assert job.env["DATABASE_URL"] == "${postgres:db.async_url}"


def test_worker_defaults_to_one_gpu_with_the_guide_gpu_settings() -> None:
    worker = spec().service("worker")
    assert worker.gpu == GpuSpec(count=1, min_vram_gb=16)
    assert worker.env["DEVICE"] == "cuda"
    assert worker.env["ENABLE_MIXED_PRECISION"] == "True"
    assert worker.env["BATCH_SIZE"] == "4"
    assert worker.command == (
        "celery",
        "-A",
        "app.services.tasks",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        "--pool=prefork",
        "--prefetch-multiplier=1",
    )
    assert worker.env["DATABASE_URL"] == "${postgres:db.async_url}"
    assert worker.health is not None and "inspect ping" in " ".join(worker.health.command or ())
    assert {v.mount_path for v in worker.volumes} == {"/app/data", "/app/logs"}


def test_gpu_false_switches_the_worker_to_cpu_settings_consistently() -> None:
    worker = spec(services={"worker": {**IMAGES["worker"], "gpu": False}}).service("worker")
    assert worker.gpu is None
    assert worker.env["DEVICE"] == "cpu"
    assert worker.env["ENABLE_MIXED_PRECISION"] == "False"
    # CPU-bound: one process per core of the worker (4 cores when sizing is small).
    assert "--concurrency=4" in (worker.command or ())


def test_gpu_false_needs_no_host_gpus_but_the_default_does() -> None:
    override = {"services": {**IMAGES, "worker": {**IMAGES["worker"], "gpu": False}}}
    assert problems(stack_config(systems=[SYSTEM], overrides={SYSTEM: override})) == []
    assert problems(stack_config(systems=[SYSTEM], overrides={SYSTEM: {"services": IMAGES}})) == [
        f"clinical-platform:overrides.{SYSTEM}.services.worker.gpu: the Docker host has no GPUs (hostGpus is not set); "
        "set hostGpus or `gpu: false`"
    ]


def test_a_bigger_gpu_request_scales_concurrency_per_gpu() -> None:
    gpu = {"model": "a100", "count": 2, "minVramGb": 40}
    s = spec(services={"worker": {**IMAGES["worker"], "gpu": gpu}}, hostGpus={"model": "a100", "count": 2})
    worker = s.service("worker")
    assert worker.gpu == GpuSpec(model="a100", count=2, min_vram_gb=40)
    assert "--concurrency=4" in (worker.command or ()) and worker.env["DEVICE"] == "cuda"


def test_settings_tune_batch_size_precision_and_pool() -> None:
    worker = spec(settings={"batchSize": 8, "mixedPrecision": False, "workerPool": "solo"}).service("worker")
    assert worker.env["BATCH_SIZE"] == "8" and worker.env["ENABLE_MIXED_PRECISION"] == "False"
    assert "--pool=solo" in (worker.command or ()) and "--concurrency=1" in (worker.command or ())


def test_routes_carry_the_guide_upload_limit_and_timeouts() -> None:
    routes = {r.name: r for r in spec().routes}
    assert {name: (r.host, r.service, r.auth) for name, r in routes.items()} == {
        "web": ("stenosis", "frontend", "basic"),
        "api": ("stenosis-api", "backend", "basic"),
        "grafana": ("stenosis-grafana", "grafana", "app"),
    }
    for name in ("web", "api"):
        assert (routes[name].max_body_mb, routes[name].timeout_s) == (500, 300)


def test_app_authentication_lifts_the_proxy_login() -> None:
    routes = {r.name: r.auth for r in spec(settings={"appAuthentication": True}).routes}
    assert routes == {"web": "app", "api": "app", "grafana": "app"}


def test_data_stores_and_secrets() -> None:
    s = spec()
    (db,) = s.postgres
    assert (db.name, db.database, db.user) == ("db", "stenosis", "stenosis_user")
    # 30 connections per process x (2 replicas x (2 uvicorn + 2 celery) + init_db) + 10.
    assert db.max_connections == 30 * (2 * (2 + 2) + 1) + 10
    (broker,) = s.redis
    assert (broker.name, broker.eviction_policy, broker.persistence) == ("broker", "noeviction", True)
    assert [(b.name, b.versioning) for b in s.buckets] == [("uploads", True), ("results", True)]
    assert {(x.name, x.source, x.length) for x in s.secrets} == {
        ("secret-key", "generated", 64),
        ("grafana-admin-password", "generated", 32),
    }


def test_cpu_worker_grows_the_database_connection_ceiling() -> None:
    s = spec(services={"worker": {**IMAGES["worker"], "gpu": False}}, settings={"maxReplicas": 3})
    assert s.postgres[0].max_connections == 30 * (3 * (2 + 4) + 1) + 10


def test_frontend_serves_static_files_and_forwards_api_like_the_guide() -> None:
    frontend = spec().service("frontend")
    assert frontend.user == "101:101" and frontend.port == 8080
    assert [f.path for f in frontend.files] == ["/etc/nginx/conf.d/default.conf"]
    conf = frontend_nginx_conf()
    assert "root /usr/share/nginx/html;" in conf and "try_files $uri $uri/ /index.html;" in conf
    assert "gzip_comp_level 6;" in conf
    assert "gzip_types text/plain text/css application/json application/javascript text/xml application/xml;" in conf
    api = conf[conf.index("location /api {") :]
    api = api[: api.index("}")]
    assert "set $backend http://backend:8000;" in api
    for directive in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
        assert f"{directive} 300s;" in api
    assert "client_max_body_size 500m;" in conf and "proxy_request_buffering off;" in api


def test_monitoring_scrapes_the_backend_and_grafana_is_locked_down() -> None:
    s = spec()
    scrape = yaml.safe_load(next(f for f in s.service("prometheus").files if f.path.endswith("prometheus.yml")).content)
    jobs = {j["job_name"]: j for j in scrape["scrape_configs"]}
    assert jobs["backend"]["metrics_path"] == "/metrics"
    assert jobs["backend"]["dns_sd_configs"] == [{"names": ["backend"], "type": "A", "port": 8000}]
    assert jobs["redis-exporter"]["dns_sd_configs"][0]["port"] == 9121
    assert "url: http://prometheus:9090" in grafana_datasource()
    grafana = s.service("grafana").env
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "${secret:grafana-admin-password}"
    assert grafana["GF_SECURITY_ADMIN_USER"] != "admin"
    assert grafana["GF_USERS_ALLOW_SIGN_UP"] == "false" and grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_SERVER_ROOT_URL"] == "${route:grafana.url}"


def test_grafana_can_be_left_out_but_alerting_stays() -> None:
    s = spec(settings={"monitoring": False})
    assert {svc.name for svc in s.services} == {
        "db-init",
        "backend",
        "worker",
        "frontend",
        "prometheus",
        "redis-exporter",
        "alertmanager",
        "blackbox-exporter",
        "node-exporter",
        "gpu-exporter",
    }
    assert [r.name for r in s.routes] == ["web", "api"]
    assert [x.name for x in s.secrets] == ["secret-key"]


def test_alert_rules_watch_errors_latency_and_the_queue() -> None:
    prometheus = spec().service("prometheus")
    assert next(f.content for f in prometheus.files if f.path == RULES_PATH) == alert_rules()
    rules = {r["alert"]: r for g in yaml.safe_load(alert_rules())["groups"] for r in g["rules"]}
    assert set(rules) == {"BackendHighErrorRate", "BackendSlow", "InferenceQueueBacklog"}
    assert 'status="5xx"' in rules["BackendHighErrorRate"]["expr"]
    assert rules["InferenceQueueBacklog"]["expr"] == 'redis_key_size{key="celery"} > 100'
    exporter = spec().service("redis-exporter")
    assert exporter.env["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] == "db0=celery"
    assert exporter.env["REDIS_ADDR"] == "${redis:broker.scheme}://${redis:broker.host}:${redis:broker.port}"


def test_prod_runs_two_backends_and_replicas_are_overridable() -> None:
    assert spec().service("backend").replicas == 1
    prod = spec(**PROD)
    assert prod.service("backend").replicas == 2 and prod.service("worker").replicas == 1
    # Each copy of the GPU worker gets a card of its own: three copies need three (one is a config error).
    scaled = spec(services={"worker": {**IMAGES["worker"], "replicas": 3}}, hostGpus={"model": "t4", "count": 3})
    assert scaled.service("worker").replicas == 3
    override = {"services": {**IMAGES, "worker": {**IMAGES["worker"], "replicas": 3}}}
    found = problems(stack_config(systems=[SYSTEM], hostGpus=HOST_GPUS, overrides={SYSTEM: override}))
    assert len(found) == 1 and found[0].startswith("clinical-platform:hostGpus: the GPU requests do not fit 1 x t4")


# --- config errors ---------------------------------------------------------------------------


def test_missing_images_are_one_clear_line_each() -> None:
    found = problems(stack_config(systems=[SYSTEM], hostGpus=HOST_GPUS))
    assert found == [
        f"clinical-platform:overrides.{SYSTEM}.services.{svc}.image: required; set the image your team builds, "
        "as registry/name:tag or registry/name@sha256:<digest>"
        for svc in ("backend", "worker", "frontend")
    ]


def test_unpinned_image_and_unknown_setting_are_rejected() -> None:
    override: dict[str, Any] = {"services": {**IMAGES, "frontend": {"image": "registry.example/x:latest"}}}
    found = problems(stack_config(systems=[SYSTEM], hostGpus=HOST_GPUS, overrides={SYSTEM: override}))
    assert any("services.frontend.image" in p and "mutable tag 'latest'" in p for p in found), found
    override = {"services": IMAGES, "settings": {"debug": True}}
    found = problems(stack_config(systems=[SYSTEM], hostGpus=HOST_GPUS, overrides={SYSTEM: override}))
    assert len(found) == 1 and found[0].startswith(f"clinical-platform:overrides.{SYSTEM}.settings.debug: unknown")


# --- the system planned on a local Docker stack ------------------------------------------------


def plan_local(tmp_path: Path, name: str, override: dict[str, Any]) -> Plan:
    """Plan Pulumi.local.yaml with only this system, a T4 on the host and mandatory enforcement."""
    change = {
        "systems": [SYSTEM],
        "hostGpus": HOST_GPUS,
        "overrides": {SYSTEM: override},
        "policy": {"enforcement": "mandatory"},
    }
    write_stack(tmp_path, name, change)
    return make_plan(name, tmp_path)


@pytest.fixture(scope="module")
def gpu_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return plan_local(tmp_path_factory.mktemp("stenosis"), "stenosis", {"services": IMAGES})


def test_planned_with_zero_policy_violations(gpu_plan: Plan) -> None:
    assert gpu_plan.review.mandatory == [], [v.message for v in gpu_plan.review.mandatory]
    assert gpu_plan.review.violations == [], [v.message for v in gpu_plan.review.violations]
    assert gpu_plan.exit_code == EXIT_OK
    assert gpu_plan.run.exports["routes"] == {
        SYSTEM: [
            "https://stenosis.clinical.localhost",
            "https://stenosis-api.clinical.localhost",
            "https://stenosis-grafana.clinical.localhost",
        ]
    }


def test_planned_containers_and_no_published_ports(gpu_plan: Plan) -> None:
    containers = {c.name: c for c in of_type(gpu_plan.run, CONTAINER)}
    assert set(containers) == {
        f"{SYSTEM}-{n}"
        for n in (
            "backend",
            "worker",
            "frontend",
            "backend-tls",  # the TLS sidecars of the routed services
            "frontend-tls",
            "grafana-tls",
            "db-init",
            "prometheus",
            "grafana",
            "redis-exporter",
            "alertmanager",
            "blackbox-exporter",
            "node-exporter",
            "gpu-exporter",
            "db",
            "broker",
            "objects",
            "objects-setup",
            # components/backups.py: the database and Redis, and the volumes of each owner
            "backup",
            "backup-backend",
            "backup-prometheus",
            "backup-grafana",
            "backup-objects",  # MinIO's data directory (components/backups.py, ADR 19)
        )
    } | {"stenosis-proxy"}
    assert [n for n, c in containers.items() if c.inputs.get("ports")] == ["stenosis-proxy"]


def test_planned_worker_requests_the_gpu(gpu_plan: Plan) -> None:
    worker = container(gpu_plan, f"{SYSTEM}-worker")
    # A card of its own, by device id (components/gpu_allocation.py).
    assert worker.inputs["deviceRequests"] == [{"driver": "nvidia", "deviceIds": ["0"], "capabilities": ["gpu"]}]
    assert worker.inputs.get("privileged") in (None, False)
    env = env_of(worker)
    assert env["DEVICE"] == "cuda" and env["BATCH_SIZE"] == "4" and env["ENABLE_MIXED_PRECISION"] == "True"
    assert worker.inputs["command"][:4] == ["celery", "-A", "app.services.tasks", "worker"]
    assert worker.inputs["shmSize"] == 2048


def test_planned_backend_env_resolves_to_this_stack(gpu_plan: Plan) -> None:
    backend = container(gpu_plan, f"{SYSTEM}-backend")
    env = env_of(backend)
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://stenosis_user:")
    assert env["DATABASE_URL"].endswith("@db:5432/stenosis?ssl=require")
    assert env["BACKEND_CORS_ORIGINS"] == '["https://stenosis.clinical.localhost"]'
    assert env["DEBUG"] == "False" and len(env["SECRET_KEY"]) == 64
    assert env["REDIS_URL"].startswith("redis://:") and env["REDIS_URL"].endswith("@broker:6379/0")
    assert env["S3_ENDPOINT_URL"] == "http://minio:9000" and env["S3_RESULTS_BUCKET"] == "results"
    assert "envs" in backend.additional_secret_outputs
    assert backend.inputs["healthcheck"]["tests"][-1] == "http://127.0.0.1:8000/health"
    assert backend.inputs["user"] == "10001:10001"


def test_planned_proxy_enforces_the_upload_limit_and_timeouts(gpu_plan: Plan) -> None:
    proxy = container(gpu_plan, "stenosis-proxy")
    conf = upload(proxy, "/etc/nginx/nginx.conf")
    for fqdn, upstream in (("stenosis", "frontend:8080"), ("stenosis-api", "backend:8000")):
        block = server_block(conf, f"{fqdn}.clinical.localhost")
        assert "client_max_body_size 500m;" in block, fqdn
        assert "proxy_read_timeout 300s;" in block and "proxy_send_timeout 300s;" in block, fqdn
        assert f"auth_basic_user_file /etc/nginx/auth/{SYSTEM}.htpasswd;" in block, fqdn
        service, port = upstream.split(":")
        assert f"set $upstream https://{SYSTEM}-{service}-tls:8443;" in block, fqdn
        assert f":{port};" in upload(container(gpu_plan, f"{SYSTEM}-{service}-tls"), "/etc/nginx/nginx.conf")
    grafana = server_block(conf, "stenosis-grafana.clinical.localhost")
    assert "auth_basic" not in grafana and "client_max_body_size 10m;" in grafana


def test_planned_frontend_and_monitoring_files(gpu_plan: Plan) -> None:
    frontend = container(gpu_plan, f"{SYSTEM}-frontend")
    # The planned file is the module's, with the Docker runtime's resolver in place of ${dns}.
    assert "resolver ${dns} valid=10s" in frontend_nginx_conf()
    planned = frontend_nginx_conf().replace("${dns}", "127.0.0.11")
    assert upload(frontend, "/etc/nginx/conf.d/default.conf") == planned
    assert frontend.inputs["user"] == "101:101"
    grafana = container(gpu_plan, f"{SYSTEM}-grafana")
    assert len(env_of(grafana)["GF_SECURITY_ADMIN_PASSWORD"]) == 32
    assert "envs" in grafana.additional_secret_outputs
    prometheus = container(gpu_plan, f"{SYSTEM}-prometheus")
    assert upload(prometheus, RULES_PATH) == alert_rules()
    assert "alertmanager:9093" in upload(prometheus, "/etc/prometheus/prometheus.yml")
    assert not prometheus.inputs.get("ports")


def test_planned_on_cpu_when_the_gpu_is_switched_off(tmp_path: Path) -> None:
    override = {"services": {**IMAGES, "worker": {**IMAGES["worker"], "gpu": False}}}
    plan = plan_local(tmp_path, "stenosis-cpu", override)
    assert plan.review.mandatory == []
    worker = container(plan, f"{SYSTEM}-worker")
    assert not worker.inputs.get("deviceRequests")
    env = env_of(worker)
    assert env["DEVICE"] == "cpu" and env["ENABLE_MIXED_PRECISION"] == "False"
    assert "--concurrency=4" in worker.inputs["command"]
