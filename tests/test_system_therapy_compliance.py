"""Therapy Compliance Analyzer: the specs follow the guide (004), config errors, scaling, and a planned local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import SystemSpec
from offline.harness import Captured
from offline.plan import EXIT_OK, Plan, make_plan
from stacks.alerts import PLATFORM_SERVICES
from tests.conftest import monitored_spec, of_type, parse, problems, stack_config
from tests.test_plan import write_stack

SYSTEM = "therapy-compliance"
CONTAINER = "docker:index/container:Container"
IMAGE = "registry.example/therapy-compliance-api:3.2.1"
PROD: dict[str, Any] = {
    "environment": "prod",
    "tls": {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    "tlsPrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
}


def spec(api: dict[str, Any] | None = None, settings: dict[str, Any] | None = None, **changes: Any) -> SystemSpec:
    """The system's spec for a dev stack with the team's API image and the given overrides."""
    override: dict[str, Any] = {"services": {"api": {"image": IMAGE, **(api or {})}}}
    if settings:
        override["settings"] = settings
    raw = stack_config(**{"systems": [SYSTEM], "overrides": {SYSTEM: override}, **changes})
    return monitored_spec(SYSTEM, parse(raw, secret_keys=[k for k in raw if k == "tlsPrivateKey"], stack="x"))


def env_of(c: Captured) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in c.inputs["envs"])


def containers(plan: Plan) -> dict[str, Captured]:
    return {c.name: c for c in of_type(plan.run, CONTAINER)}


def upload(c: Captured, path: str) -> str:
    return next(str(u["content"]) for u in c.inputs["uploads"] if u["file"] == path)


# --- the specs against the guide ------------------------------------------------------------


def test_api_runs_the_guide_gunicorn_command() -> None:
    api = spec().service("api")
    # The rest is the monitoring every system gets from the registry's last step (stacks.alerts).
    assert [s.name for s in spec().services if s.name not in PLATFORM_SERVICES] == ["api"]
    assert api.image == IMAGE and api.port == 8001
    assert api.command is not None
    assert api.command[:13] == (
        "gunicorn",
        "src.api.main:app",
        "--workers",
        "4",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--bind",
        "0.0.0.0:8001",
        "--timeout",
        "300",
        "--keep-alive",
        "2",
        "--forwarded-allow-ips",
    )
    assert "--access-logfile" in api.command


def test_env_carries_the_guide_production_env() -> None:
    env = spec().service("api").env
    assert env["DATABASE_URL"] == "${postgres:db.url}"
    assert env["SECRET_KEY"] == "${secret:secret-key}"
    expected = {
        "ALGORITHM": "HS256",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "480",
        "ENVIRONMENT": "production",
        "MAX_WORKERS": "8",
        "CACHE_SIZE_GB": "4",
        "MODEL_CACHE_SIZE": "2048",
        "BACKGROUND_TASKS_ENABLED": "true",
        "RATE_LIMIT_ENABLED": "true",
        "AUDIT_LOGGING_ENABLED": "true",
        "PHI_SCRUBBING_STRICT": "true",
    }
    assert {k: env[k] for k in expected} == expected


def config_yaml(system: SystemSpec) -> dict[str, Any]:
    """The api's config.yaml read as the application reads it (yaml.safe_load, upstream src/config.py)."""
    (file,) = [f for f in system.service("api").files if f.path == "/app/config.yaml"]
    loaded: dict[str, Any] = yaml.safe_load(file.content)
    return loaded


def test_guide_config_yaml_is_the_file_the_app_reads_not_variables() -> None:
    api = spec().service("api")
    assert config_yaml(spec()) == {
        "database": {
            "url": "${postgres:db.url}",
            "echo": False,
            "pool_size": 20,
            "max_overflow": 40,
            "pool_timeout": 60,
            "pool_recycle": 3600,
        },
        "performance": {
            "cache_size_gb": 4,
            "max_workers": 8,
            "background_processing": True,
            "model_optimization": True,
        },
        "security": {
            "rate_limiting": True,
            "audit_logging": True,
            "phi_scrubbing_strict": True,
            "session_timeout_minutes": 480,
        },
        "monitoring": {
            "health_checks": True,
            "performance_metrics": True,
            "error_tracking": True,
            "usage_analytics": True,
        },
    }
    # No invented variables for what the guide gives as config.yaml values or as code (src/core/alerting.py).
    invented = {"DATABASE_POOL_SIZE", "DATABASE_ECHO", "SESSION_TIMEOUT_MINUTES", "MODEL_OPTIMIZATION"}
    assert not invented & set(api.env)
    assert not [k for k in api.env if k.startswith("ALERT_")]
    assert api.env["REDIS_URL"] == "${redis:cache.url}" and api.env["REDIS_PASSWORD"] == "${redis:cache.password}"


def test_health_check_probes_the_health_endpoint() -> None:
    api = spec().service("api")
    assert api.health is not None and api.health.command is not None
    assert "http://127.0.0.1:8001/health'" in api.health.command[-1]
    assert (api.health.interval_s, api.health.timeout_s, api.health.retries) == (30, 10, 3)


def test_postgres_is_sized_for_the_guide_pool() -> None:
    (db,) = spec().postgres
    assert (db.name, db.database, db.user, db.storage_gb) == ("db", "compliance", "compliance", 50)
    # (pool_size 20 + max_overflow 40) x 4 workers x 3 replicas + 20.
    assert db.max_connections == 60 * 4 * 3 + 20
    small = spec(settings={"poolSize": 5, "maxOverflow": 5, "workers": 2, "maxReplicas": 1}).postgres[0]
    assert small.max_connections == 100  # never below PostgreSQL's own default


def test_redis_is_a_cache() -> None:
    (cache,) = spec().redis
    assert (cache.name, cache.eviction_policy, cache.persistence, cache.memory_mb) == (
        "cache",
        "allkeys-lru",
        False,
        1024,
    )


def test_route_is_https_with_the_app_login_and_long_timeouts() -> None:
    (route,) = spec().routes
    assert (route.host, route.service, route.auth, route.timeout_s, route.max_body_mb) == (
        "therapy-compliance",
        "api",
        "app",
        300,
        50,
    )


def test_secret_key_is_generated() -> None:
    assert [(x.name, x.source, x.length) for x in spec().secrets] == [("secret-key", "generated", 64)]


def test_settings_tune_workers_timeouts_and_pool() -> None:
    s = spec(settings={"workers": 8, "workerTimeoutS": 600, "poolSize": 10, "maxOverflow": 20, "logLevel": "WARNING"})
    api = s.service("api")
    assert api.command is not None
    assert api.command[api.command.index("--workers") + 1] == "8"
    assert api.command[api.command.index("--timeout") + 1] == "600"
    assert config_yaml(s)["database"]["pool_size"] == 10 and api.env["LOG_LEVEL"] == "WARNING"
    assert s.routes[0].timeout_s == 600
    assert s.postgres[0].max_connections == 30 * 8 * 3 + 20


def test_horizontal_scale_defaults_and_override() -> None:
    assert spec().service("api").replicas == 1
    assert spec(**PROD).service("api").replicas == 3
    assert spec(api={"replicas": 5}).service("api").replicas == 5


def test_no_outbound_internet_and_persistent_audit_logs() -> None:
    api = spec().service("api")
    assert api.egress is False and api.env["HF_HUB_OFFLINE"] == "1"
    assert {v.name: v.mount_path for v in api.volumes} == {"audit-logs": "/app/logs", "model-cache": "/app/.cache"}


# --- config errors ---------------------------------------------------------------------------


def test_missing_image_is_a_clear_config_error() -> None:
    assert problems(stack_config(systems=[SYSTEM])) == [
        f"clinical-platform:overrides.{SYSTEM}.services.api.image: required; set the image your team builds, "
        "as registry/name:tag or registry/name@sha256:<digest>"
    ]


def test_hipaa_controls_are_not_settings() -> None:
    override = {"services": {"api": {"image": IMAGE}}, "settings": {"auditLogging": False}}
    found = problems(stack_config(systems=[SYSTEM], overrides={SYSTEM: override}))
    assert len(found) == 1
    assert found[0].startswith(f"clinical-platform:overrides.{SYSTEM}.settings.auditLogging: unknown setting")


def test_out_of_range_setting_names_the_key() -> None:
    override = {"services": {"api": {"image": IMAGE}}, "settings": {"workers": 0}}
    found = problems(stack_config(systems=[SYSTEM], overrides={SYSTEM: override}))
    assert found == [
        f"clinical-platform:overrides.{SYSTEM}.settings.workers: Input should be greater than or equal to 1"
    ]


# --- the system planned on a local Docker stack ------------------------------------------------


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """Pulumi.local.yaml with only this system, two API replicas and mandatory enforcement."""
    tmp = tmp_path_factory.mktemp("therapy")
    change = {
        "systems": [SYSTEM],
        "overrides": {SYSTEM: {"services": {"api": {"image": IMAGE, "replicas": 2}}}},
        "policy": {"enforcement": "mandatory"},
    }
    write_stack(Path(tmp), "therapy", change)
    return make_plan("therapy", Path(tmp))


def test_planned_with_zero_policy_violations(plan: Plan) -> None:
    assert plan.review.mandatory == [], [v.message for v in plan.review.mandatory]
    assert plan.review.violations == [], [v.message for v in plan.review.violations]
    assert plan.exit_code == EXIT_OK
    assert plan.run.exports["routes"] == {SYSTEM: ["https://therapy-compliance.clinical.localhost"]}


def test_planned_replicas_and_no_published_ports(plan: Plan) -> None:
    found = containers(plan)
    assert set(found) == {
        f"{SYSTEM}-api-1",
        f"{SYSTEM}-api-2",
        f"{SYSTEM}-api-tls",  # its TLS sidecar: the proxy reaches the API over HTTPS
        f"{SYSTEM}-db",
        f"{SYSTEM}-cache",
        f"{SYSTEM}-backup",  # the database (the cache has no persistence)
        f"{SYSTEM}-backup-api",  # audit-logs and model-cache
        *(f"{SYSTEM}-{n}" for n in PLATFORM_SERVICES),
        "therapy-proxy",
    }
    assert [n for n, c in found.items() if c.inputs.get("ports")] == ["therapy-proxy"]
    for name in (f"{SYSTEM}-api-1", f"{SYSTEM}-api-2"):
        nets = {(n["name"], tuple(n.get("aliases", []))) for n in found[name].inputs["networksAdvanced"]}
        # Only its TLS sidecar joins the frontend the proxy shares; both replicas answer to "api" behind it.
        assert nets == {(f"{SYSTEM}-backend", ("api",))}
    sidecar = {(n["name"], tuple(n.get("aliases", []))) for n in found[f"{SYSTEM}-api-tls"].inputs["networksAdvanced"]}
    assert sidecar == {(f"{SYSTEM}-frontend", (f"{SYSTEM}-api-tls",)), (f"{SYSTEM}-backend", ())}


def test_planned_api_env_and_command(plan: Plan) -> None:
    api = containers(plan)[f"{SYSTEM}-api-1"]
    env = env_of(api)
    assert env["DATABASE_URL"].startswith("postgresql://compliance:")
    assert env["DATABASE_URL"].endswith("@db:5432/compliance?sslmode=require")
    assert env["REDIS_URL"].startswith("redis://:") and env["REDIS_URL"].endswith("@cache:6379/0")
    assert env["REDIS_HOST"] == "cache" and env["REDIS_PORT"] == "6379"
    assert len(env["SECRET_KEY"]) == 64 and "envs" in api.additional_secret_outputs
    assert env["PHI_SCRUBBING_STRICT"] == "true" and env["AUDIT_LOGGING_ENABLED"] == "true"
    assert api.inputs["command"][:2] == ["gunicorn", "src.api.main:app"]
    # Docker copies config.yaml in before start, which it cannot do into a read-only root filesystem.
    assert api.inputs["user"] == "10001:10001" and api.inputs["readOnly"] is False
    # The guide's config.yaml with the real database URL (the application does not expand ${DATABASE_URL}).
    config = yaml.safe_load(upload(api, "/app/config.yaml"))
    assert config["database"]["url"] == env["DATABASE_URL"] and config["database"]["pool_size"] == 20
    assert config["security"]["session_timeout_minutes"] == 480


def test_planned_proxy_route(plan: Plan) -> None:
    conf = upload(containers(plan)["therapy-proxy"], "/etc/nginx/nginx.conf")
    start = conf.index("server_name therapy-compliance.clinical.localhost;")
    end = conf.find("    server {", start)
    block = conf[start : end if end != -1 else len(conf)]
    assert "client_max_body_size 50m;" in block and "proxy_read_timeout 300s;" in block
    assert f"set $upstream https://{SYSTEM}-api-tls:8443;" in block and "proxy_ssl_verify on;" in block
    assert "auth_basic" not in block


def test_planned_data_services(plan: Plan) -> None:
    found = containers(plan)
    db = found[f"{SYSTEM}-db"]
    assert "max_connections=740" in db.inputs["command"]
    cache = upload(found[f"{SYSTEM}-cache"], "/usr/local/etc/redis/redis.conf")
    assert "maxmemory-policy allkeys-lru" in cache and "appendonly no" in cache and "requirepass " in cache
