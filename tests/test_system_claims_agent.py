"""Claims OCR agent: its specs follow the guide, its config errors are exact, and it plans clean on a local stack."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.specs import GpuSpec, SystemSpec
from offline.harness import ROOT, SECRET_PLACEHOLDER, Captured
from offline.plan import EXIT_OK, Plan, make_plan
from stacks import claims_agent, registry
from stacks.alerts import GPU_PLATFORM_SERVICES, PLATFORM_SERVICES
from tests.conftest import monitored_spec, named, of_type, parse, problems, stack_config

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
IMAGES = {svc: f"registry.hospital.example/claims/ncb-ocr-{svc}:1.0.0" for svc in claims_agent.IMAGES_FROM_CONFIG}
COMMANDS = {
    "apiCommand": "uvicorn src.main:app --host 0.0.0.0 --port 8000 --proxy-headers",
    "workerCommand": "python -m src.workers.ocr_worker",
    "pollerCommand": "python -m src.workers.email_poller",
}
SETTINGS: dict[str, Any] = {
    **COMMANDS,
    "ncbApiBaseUrl": "https://ncb.internal.hospital.example/api/v1",
    "sheetsSpreadsheetId": "1AbCdEfGhIjKlMnOpQrStUv",
    "driveFolderId": "0AbCdEfGhIjKlMnOpQrStUv",
    "smtpUsername": "alerts@hospital.example",
    "alertRecipients": "ops@hospital.example,manager@hospital.example",
}
REQUIRED_SECRETS = [
    "gmail-credentials",
    "gmail-token",
    "google-service-account",
    "ncb-api-key",
    "admin-api-key",
    "smtp-password",
]
SECRET_KEYS = [f"claims-agent-{name}" for name in REQUIRED_SECRETS]
HOST_GPUS = {"model": "rtx-4090", "count": 1}


def claims_config(
    settings: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
    secrets: bool = True,
    images: bool = True,
    **changes: Any,
) -> dict[str, Any]:
    """A dev stack with only the claims agent, its images, settings and (secret) credentials."""
    svc = {name: {"image": image} for name, image in IMAGES.items()} if images else {}
    for name, override in (services or {}).items():
        svc[name] = {**svc.get(name, {}), **override}
    changes.setdefault("hostGpus", HOST_GPUS)
    raw = stack_config(
        systems=["claims-agent"],
        overrides={"claims-agent": {"services": svc, "settings": {**SETTINGS, **(settings or {})}}},
        **changes,
    )
    if secrets:
        raw.update({key: f"value-of-{key}" for key in SECRET_KEYS})
    return {k: v for k, v in raw.items() if v is not None}


def build(**kwargs: Any) -> SystemSpec:
    """The claims agent's spec for ``claims_config(**kwargs)``."""
    return monitored_spec("claims-agent", parse(claims_config(**kwargs), secret_keys=SECRET_KEYS))


# --- specs -----------------------------------------------------------------------------------------------------------


def test_services_ports_and_routes_follow_the_guide() -> None:
    spec = build()
    assert [s.name for s in spec.services] == [
        "api",
        "worker",
        "poller",
        "redis-exporter",
        "prometheus",
        "grafana",
        # Added to every system by the registry's last step (stacks.alerts).
        "node-exporter",
        "gpu-exporter",
        "alertmanager",
        "blackbox-exporter",
    ]
    assert set(claims_agent.SERVICES) | set(PLATFORM_SERVICES) | set(GPU_PLATFORM_SERVICES) >= {
        s.name for s in spec.services
    }
    ports = {s.name: s.port for s in spec.services}
    assert ports == {
        "api": 8000,
        "worker": None,
        "poller": None,
        "redis-exporter": 9121,
        "prometheus": 9090,
        "grafana": 3000,
        "node-exporter": 9100,
        "gpu-exporter": 9835,
        "alertmanager": 9093,
        "blackbox-exporter": 9115,
    }
    assert {s.name: s.image for s in spec.services if s.name in IMAGES} == IMAGES
    routes = {r.name: r for r in spec.routes}
    api = routes["api"]
    assert (api.host, api.service, api.auth, api.max_body_mb, api.timeout_s) == ("claims-ocr", "api", "basic", 30, 120)
    grafana = routes["grafana"]
    assert (grafana.host, grafana.service, grafana.auth) == ("claims-grafana", "grafana", "app")
    health = spec.service("api").health
    assert health is not None and health.command is not None
    assert "http://127.0.0.1:8000/health'" in health.command[-1]


def test_app_services_get_the_guides_env() -> None:
    spec = build()
    for name in ("api", "worker", "poller"):
        env = spec.service(name).env
        assert env["APP_ENV"] == "production" and env["APP_DEBUG"] == "false" and env["LOG_LEVEL"] == "INFO"
        assert env["GMAIL_POLL_INTERVAL"] == "30" and env["OCR_BATCH_SIZE"] == "8"
        assert env["OCR_HIGH_CONFIDENCE_THRESHOLD"] == "0.90"
        assert env["NCB_API_BASE_URL"] == "https://ncb.internal.hospital.example/api/v1"
        assert env["SHEETS_SPREADSHEET_ID"] == SETTINGS["sheetsSpreadsheetId"]
        assert env["DRIVE_FOLDER_ID"] == SETTINGS["driveFolderId"]
        assert env["REDIS_URL"] == "${redis:redis.url}"
        assert env["NCB_API_KEY"] == "${secret:ncb-api-key}" and env["ADMIN_API_KEY"] == "${secret:admin-api-key}"
        assert env["SMTP_HOST"] == "smtp.gmail.com" and env["SMTP_PORT"] == "587"
        assert env["SMTP_PASSWORD"] == "${secret:smtp-password}" and env["ALERTS_ENABLED"] == "true"
        assert env["ALERT_RECIPIENTS"] == "ops@hospital.example,manager@hospital.example"
        assert env["METRICS_ENABLED"] == "true" and env["TZ"] == "Asia/Kuala_Lumpur"
        assert env["GMAIL_CREDENTIALS_PATH"] == "/app/secrets/gmail_credentials.json"
        assert env["GMAIL_TOKEN_PATH"] == "/app/secrets/gmail_token.json"
        assert env["SHEETS_CREDENTIALS_PATH"] == "/app/secrets/sheets_credentials.json"
        assert env["DRIVE_CREDENTIALS_PATH"] == "/app/secrets/drive_credentials.json"
        assert "SENTRY_DSN" not in env  # error reports leave the hospital only when asked for
    assert build(settings={"sentryEnabled": True}).service("api").env["SENTRY_DSN"] == "${secret:sentry-dsn}"


def test_every_service_is_hardened_and_credentials_land_in_a_tmpfs() -> None:
    spec = build()
    for svc in spec.services:
        assert svc.user and svc.user.split(":")[0] not in {"0", "root"}, svc.name
        assert "/tmp" in svc.tmpfs and svc.capabilities_add == (), svc.name
        # Docker copies files in before start, which needs a writable root: only the monitoring configs do that.
        assert svc.read_only_root is True
        assert bool(svc.files) == (svc.name in {"prometheus", "grafana", "alertmanager", "blackbox-exporter"}), svc.name
    for name, command in zip(("api", "worker", "poller"), COMMANDS.values(), strict=True):
        svc = spec.service(name)
        assert svc.command is not None and svc.command[:2] == ("/bin/sh", "-c")
        assert svc.command[3:] == ("claims-agent", *shlex.split(command))
        assert claims_agent.SECRETS_DIR in svc.tmpfs
        for path_var, (source, path) in claims_agent.SECRET_FILES.items():
            assert svc.env[path_var] == path and path.startswith(claims_agent.SECRETS_DIR + "/")
            assert svc.env[source].startswith("${secret:")


def test_entrypoint_writes_private_files_unsets_the_json_and_execs_the_command(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for path_var, (source, path) in claims_agent.SECRET_FILES.items():
        env[path_var] = str(tmp_path / Path(path).name)
        env[source] = json.dumps({"type": source.lower(), "key": "line1\nline2 $HOME 'quoted'"})
    script = claims_agent.secret_files_entrypoint()
    result = subprocess.run(
        ["/bin/sh", "-c", script, "claims-agent", "sh", "-c", 'echo "started with $# args"; env'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.startswith("started with 0 args")
    assert not [v for v in claims_agent.SECRET_FILE_CONTENTS if f"\n{v}=" in "\n" + result.stdout]
    for path_var, (source, _) in claims_agent.SECRET_FILES.items():
        written = Path(env[path_var])
        assert written.read_text() == env[source]
        assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_redis_keeps_the_queue_across_restarts() -> None:
    (redis,) = build().redis
    assert (redis.name, redis.persistence, redis.eviction_policy, redis.memory_mb) == ("redis", True, "noeviction", 512)


def test_config_secrets_are_declared_with_their_keys() -> None:
    keys = registry.config_secret_keys()
    for name in REQUIRED_SECRETS:
        assert f"claims-agent-{name}" in keys
    assert keys["claims-agent-ncb-api-key"] == "NCB API key"
    by_name = {s.name: s for s in claims_agent.SECRETS}
    assert {n for n, s in by_name.items() if s.source == "config" and s.required} == set(REQUIRED_SECRETS)
    assert by_name["sentry-dsn"].source == "config" and by_name["sentry-dsn"].required is False
    assert by_name["grafana-admin-password"].source == "generated"
    assert "claims-agent-grafana-admin-password" not in keys


def test_worker_asks_for_the_guides_gpu_and_nothing_else_does() -> None:
    spec = build()
    assert spec.service("worker").gpu == GpuSpec(count=1, min_vram_gb=8)
    assert spec.service("worker").env["OCR_USE_GPU"] == "true"
    assert "CUDA_VISIBLE_DEVICES" not in spec.service("worker").env
    for name in ("api", "poller"):
        assert spec.service(name).gpu is None and spec.service(name).env["OCR_USE_GPU"] == "false"


def test_gpu_false_switches_the_worker_to_cpu_settings() -> None:
    spec = build(services={"worker": {"gpu": False}}, hostGpus=None)
    worker = spec.service("worker")
    assert worker.gpu is None
    assert worker.env["OCR_USE_GPU"] == "false" and worker.env["CUDA_VISIBLE_DEVICES"] == ""


def test_the_default_gpu_needs_a_gpu_on_the_host() -> None:
    assert problems(claims_config(hostGpus=None), secret_keys=SECRET_KEYS) == [
        "clinical-platform:overrides.claims-agent.services.worker.gpu: the Docker host has no GPUs "
        "(hostGpus is not set); set hostGpus or `gpu: false`"
    ]
    small = problems(claims_config(hostGpus={"model": "t4", "count": 1}), secret_keys=SECRET_KEYS)
    assert small == []  # 16 GB T4 is above the guide's 8 GB floor


def test_only_the_poller_reaches_the_internet_by_default() -> None:
    spec = build()
    # Besides the poller: Alertmanager (the receivers) and the blackbox exporter (the routes' public names).
    assert {s.name for s in spec.services if s.egress} == {"poller", "alertmanager", "blackbox-exporter"}
    opened = build(settings={"workerEgress": True, "apiEgress": True})
    assert {s.name for s in opened.services if s.egress} >= {"api", "worker", "poller"}


def test_scaling_knobs() -> None:
    assert [build().service(n).replicas for n in ("api", "worker", "poller")] == [1, 1, 1]
    tls = {"mode": "provided", "certificate": "-----BEGIN CERTIFICATE-----\nx\n"}
    prod_config = parse(
        claims_config(environment="prod", tls=tls, tlsPrivateKey="k"),
        secret_keys=[*SECRET_KEYS, "tlsPrivateKey"],
        stack="prod",
    )
    prod = monitored_spec("claims-agent", prod_config)
    assert prod.service("api").replicas == 2  # the guide's load-balanced API pair
    scaled = build(services={"worker": {"replicas": 3, "cpus": 8, "memoryMb": 16384}})
    worker = scaled.service("worker")
    assert (worker.replicas, worker.resources.cpus, worker.resources.memory_mb) == (3, 8, 16384)


def test_prometheus_loads_the_guides_alert_rules_and_scrapes_working_targets() -> None:
    prometheus = build().service("prometheus")
    files = {f.path: f.content for f in prometheus.files}
    rules = yaml.safe_load(files[claims_agent.RULES_PATH])
    assert [r["alert"] for r in rules["groups"][0]["rules"]] == [
        "ServiceDown",
        "HighErrorRate",
        "QueueBacklog",
        "GPUUtilizationLow",
    ]
    assert rules["groups"][0]["rules"][2]["expr"] == "redis_queue_length > 100"
    conf = yaml.safe_load(files["/etc/prometheus/prometheus.yml"])
    assert conf["rule_files"] == ["/etc/prometheus/rules/*.yml"] and claims_agent.RULES_PATH.startswith(
        "/etc/prometheus/rules/"
    )
    jobs = {job["job_name"]: job for job in conf["scrape_configs"]}
    # The guide's api:9090: the app's metrics listener, not the API port.
    assert jobs["api"]["dns_sd_configs"] == [{"names": ["api"], "type": "A", "port": 9090}]
    assert jobs["redis-exporter"]["dns_sd_configs"] == [{"names": ["redis-exporter"], "type": "A", "port": 9121}]
    assert "--storage.tsdb.retention.time=15d" in (prometheus.command or ())


def test_grafana_can_be_left_out_but_alerting_stays() -> None:
    spec = build(settings={"monitoring": False})
    assert [s.name for s in spec.services] == [
        "api",
        "worker",
        "poller",
        "redis-exporter",
        "prometheus",
        "node-exporter",
        "gpu-exporter",
        "alertmanager",
        "blackbox-exporter",
    ]
    assert [r.name for r in spec.routes] == ["api"]
    assert "grafana-admin-password" not in {s.name for s in spec.secrets}


# --- config errors ---------------------------------------------------------------------------------------------------


def test_missing_images_and_secrets_are_one_line_each() -> None:
    found = problems(claims_config(images=False, secrets=False))
    image_lines = [
        f"clinical-platform:overrides.claims-agent.services.{svc}.image: required; set the image your team builds, "
        "as registry/name:tag or registry/name@sha256:<digest>"
        for svc in ("api", "worker", "poller")
    ]
    secret_lines = [
        "clinical-platform:claims-agent-gmail-credentials: required (Gmail OAuth client JSON "
        "(gmail_credentials.json)); `pulumi config set --secret claims-agent-gmail-credentials <value>`",
        "clinical-platform:claims-agent-gmail-token: required (Gmail OAuth token JSON from the consent flow "
        "(gmail_token.json)); `pulumi config set --secret claims-agent-gmail-token <value>`",
        "clinical-platform:claims-agent-google-service-account: required (Google service-account JSON for Sheets and "
        "Drive); `pulumi config set --secret claims-agent-google-service-account <value>`",
        "clinical-platform:claims-agent-ncb-api-key: required (NCB API key); "
        "`pulumi config set --secret claims-agent-ncb-api-key <value>`",
        "clinical-platform:claims-agent-admin-api-key: required (admin API key of the claims API); "
        "`pulumi config set --secret claims-agent-admin-api-key <value>`",
        "clinical-platform:claims-agent-smtp-password: required (SMTP password of the alert mailbox); "
        "`pulumi config set --secret claims-agent-smtp-password <value>`",
    ]
    assert found == image_lines + secret_lines


def test_plaintext_secret_is_rejected() -> None:
    found = problems(claims_config(), secret_keys=[k for k in SECRET_KEYS if k != "claims-agent-ncb-api-key"])
    assert found == [
        "clinical-platform:claims-agent-ncb-api-key: stored in plaintext; remove it and run "
        "`pulumi config set --secret claims-agent-ncb-api-key <value>`"
    ]


def test_optional_sentry_dsn_is_not_required_but_must_be_secret() -> None:
    assert problems(claims_config(), secret_keys=SECRET_KEYS) == []
    raw = {**claims_config(), "claims-agent-sentry-dsn": "https://key@sentry.example/1"}
    assert problems(raw, secret_keys=SECRET_KEYS) == [
        "clinical-platform:claims-agent-sentry-dsn: stored in plaintext; remove it and run "
        "`pulumi config set --secret claims-agent-sentry-dsn <value>`"
    ]


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"ncbApiBaseUrl": "http://ncb.internal/api/v1"},
            "settings.ncbApiBaseUrl: 'http://ncb.internal/api/v1' is not an https:// URL; "
            "claims data never travels in plaintext",
        ),
        (
            {"apiCommand": "  "},
            "settings.apiCommand: is empty; give the command that starts the service, e.g. 'python -m app.worker'",
        ),
        (
            {"workerCommand": "python -c 'unclosed"},
            "settings.workerCommand: is not a command line (No closing quotation)",
        ),
        (
            {"grafanaAdminUser": "admin"},
            "settings.grafanaAdminUser: 'admin' is a default account name; choose a named admin",
        ),
        (
            {"alertRecipients": "ops@hospital.example;x@y.org"},
            "settings.alertRecipients: 'ops@hospital.example;x@y.org' is not an e-mail address; "
            "list addresses separated by commas",
        ),
        ({"smtpUsername": "alerts"}, "settings.smtpUsername: 'alerts' is not an e-mail address"),
        ({"ocrBatchSize": 0}, "settings.ocrBatchSize: Input should be greater than or equal to 1"),
        ({"ocrBatchSzie": 4}, "settings.ocrBatchSzie: unknown setting; known settings: api_command"),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, Any], line: str) -> None:
    found = problems(claims_config(settings=settings), secret_keys=SECRET_KEYS)
    assert len(found) == 1 and found[0].startswith(f"clinical-platform:overrides.claims-agent.{line}"), found


def test_required_settings_are_reported_by_key() -> None:
    raw = claims_config()
    raw["overrides"]["claims-agent"]["settings"] = {}
    found = problems(raw, secret_keys=SECRET_KEYS)
    keys = (
        "apiCommand",
        "workerCommand",
        "pollerCommand",
        "ncbApiBaseUrl",
        "sheetsSpreadsheetId",
        "driveFolderId",
        "smtpUsername",
        "alertRecipients",
    )
    assert [line.split(": ")[0] for line in found] == [
        f"clinical-platform:overrides.claims-agent.settings.{k}" for k in keys
    ]
    # Each line says what the setting is, from the Settings model's field description.
    assert all(": required; " in line and len(line.split("required; ")[1]) > 10 for line in found), found
    assert "Command that starts the API on port 8000" in found[0]


# --- the planned stack -----------------------------------------------------------------------------------------------


def write_claims_stack(tmp_path: Path, name: str) -> Path:
    """Pulumi.local.yaml with the claims agent enabled, its images and settings, and secure credentials."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    config["clinical-platform:systems"] = ["claims-agent"]
    config["clinical-platform:hostGpus"] = HOST_GPUS
    config["clinical-platform:overrides"] = {
        "claims-agent": {"services": {s: {"image": i} for s, i in IMAGES.items()}, "settings": SETTINGS}
    }
    # Every rule mandatory, so "no mandatory violation" means no finding at all.
    config["clinical-platform:policy"] = {
        "enforcement": "mandatory",
        "overrides": {"docker-non-root": "mandatory", "docker-healthcheck": "mandatory"},
    }
    config.update({f"clinical-platform:{key}": {"secure": "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAA"} for key in SECRET_KEYS})
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.fixture(scope="module")
def claims_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plan]:
    stack_dir = write_claims_stack(tmp_path_factory.mktemp("claims"), "claims")
    with pytest.MonkeyPatch.context() as mp:
        # The engine also lists secret keys in PULUMI_CONFIG_SECRET_KEYS; read_pulumi_config reads it.
        mp.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps([f"clinical-platform:{k}" for k in SECRET_KEYS]))
        yield make_plan("claims", stack_dir)


def env_of(container: Captured) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.inputs["envs"])


def networks_of(container: Captured) -> set[str]:
    return {n["name"] for n in container.inputs["networksAdvanced"]}


def test_planned_stack_has_no_policy_finding(claims_plan: Plan) -> None:
    assert claims_plan.review.violations == [], [v.message for v in claims_plan.review.violations]
    assert claims_plan.exit_code == EXIT_OK
    assert claims_plan.run.exports["routes"] == {
        "claims-agent": ["https://claims-ocr.clinical.localhost", "https://claims-grafana.clinical.localhost"]
    }


def test_planned_containers_are_hardened(claims_plan: Plan) -> None:
    containers = {c.name: c for c in of_type(claims_plan.run, CONTAINER)}
    assert set(containers) == {
        "claims-agent-api",
        "claims-agent-api-tls",  # TLS sidecars of the routed services (they handle PHI)
        "claims-agent-grafana-tls",
        "claims-agent-worker",
        "claims-agent-poller",
        "claims-agent-redis",
        "claims-agent-redis-exporter",
        "claims-agent-prometheus",
        "claims-agent-grafana",
        "claims-agent-backup",
        "claims-agent-backup-api",
        "claims-agent-backup-worker",
        "claims-agent-backup-prometheus",
        "claims-agent-backup-grafana",
        "claims-agent-node-exporter",
        "claims-agent-gpu-exporter",
        "claims-agent-alertmanager",
        "claims-agent-blackbox-exporter",
        "claims-proxy",
    }
    for name in ("claims-agent-api", "claims-agent-worker", "claims-agent-poller", "claims-agent-redis-exporter"):
        c = containers[name]
        assert c.inputs["readOnly"] is True, name
        assert c.inputs["capabilities"] == {"drops": ["ALL"], "adds": []}, name
        assert c.inputs["securityOpts"] == ["no-new-privileges:true"], name
        assert c.inputs["tmpfs"]["/tmp"].startswith("rw,noexec,nosuid"), name
        assert "envs" in c.additional_secret_outputs, name
    for name in ("claims-agent-api", "claims-agent-worker", "claims-agent-poller"):
        assert set(containers[name].inputs["tmpfs"]) == {"/tmp", "/app/secrets"}
        assert containers[name].inputs["user"] == "10001:10001"
    assert [c.name for c in containers.values() if c.inputs.get("ports")] == ["claims-proxy"]


def test_planned_credentials_are_secret_env(claims_plan: Plan) -> None:
    api = named(claims_plan.run, "claims-agent-api")
    env = env_of(api)
    for key in (
        "NCB_API_KEY",
        "ADMIN_API_KEY",
        "SMTP_PASSWORD",
        "GMAIL_CREDENTIALS_JSON",
        "GMAIL_TOKEN_JSON",
        "GOOGLE_SERVICE_ACCOUNT_JSON",
    ):
        assert env[key] == SECRET_PLACEHOLDER, key
    assert env["REDIS_URL"].startswith("redis://:") and env["REDIS_URL"].endswith("@redis:6379/0")
    assert api.inputs["command"][:2] == ["/bin/sh", "-c"] and api.inputs["command"][-1] == "--proxy-headers"
    assert not api.inputs.get("uploads")


def test_planned_networks_give_only_the_poller_egress(claims_plan: Plan) -> None:
    networks = {n.name: n.inputs for n in of_type(claims_plan.run, NETWORK)}
    assert networks["claims-agent-egress"]["internal"] is False
    assert networks["claims-agent-backend"]["internal"] is True
    assert networks["claims-agent-frontend"]["internal"] is True
    assert "claims-agent-egress" in networks_of(named(claims_plan.run, "claims-agent-poller"))
    for name in ("claims-agent-api", "claims-agent-worker", "claims-agent-redis", "claims-agent-grafana"):
        assert "claims-agent-egress" not in networks_of(named(claims_plan.run, name)), name
    assert networks_of(named(claims_plan.run, "claims-agent-redis")) == {"claims-agent-backend"}
    assert "claims-agent-backend" not in networks_of(named(claims_plan.run, "claims-proxy"))


def test_planned_worker_gets_the_gpu_and_the_read_only_models(claims_plan: Plan) -> None:
    worker = named(claims_plan.run, "claims-agent-worker")
    # A card of its own, by device id (components/gpu_allocation.py).
    assert worker.inputs["deviceRequests"] == [{"driver": "nvidia", "deviceIds": ["0"], "capabilities": ["gpu"]}]
    assert env_of(worker)["OCR_USE_GPU"] == "true"
    volumes = {v["containerPath"]: v for v in worker.inputs["volumes"]}
    assert volumes["/app/data/models"] == {
        "volumeName": "claims-agent-models",
        "containerPath": "/app/data/models",
        "readOnly": True,
    }
    assert volumes["/app/data/temp"]["volumeName"] == "claims-agent-attachments"
    poller = named(claims_plan.run, "claims-agent-poller")
    assert {v["volumeName"] for v in poller.inputs["volumes"]} == {"claims-agent-attachments", "claims-agent-logs"}


def test_planned_proxy_enforces_the_guides_limits(claims_plan: Plan) -> None:
    proxy = named(claims_plan.run, "claims-proxy")
    conf = next(u["content"] for u in proxy.inputs["uploads"] if u["file"] == "/etc/nginx/nginx.conf")
    block = conf[conf.index("server_name claims-ocr.clinical.localhost") :]
    block = block[: block.index("server {")] if "server {" in block else block
    assert "client_max_body_size 30m;" in block
    assert "proxy_read_timeout 120s;" in block and "proxy_send_timeout 120s;" in block
    assert "auth_basic_user_file /etc/nginx/auth/claims-agent.htpasswd;" in block
    assert "set $upstream https://claims-agent-api-tls:8443;" in block and "proxy_ssl_verify on;" in block


def test_planned_redis_persists_the_queue(claims_plan: Plan) -> None:
    redis = named(claims_plan.run, "claims-agent-redis")
    conf = next(u["content"] for u in redis.inputs["uploads"] if u["file"].endswith("redis.conf"))
    assert "appendonly yes" in conf and "maxmemory-policy noeviction" in conf
    assert {v["containerPath"] for v in redis.inputs["volumes"]} == {"/data"}
    prometheus = named(claims_plan.run, "claims-agent-prometheus")
    files = {u["file"] for u in prometheus.inputs["uploads"]}
    assert files == {"/etc/prometheus/prometheus.yml", claims_agent.RULES_PATH, "/etc/prometheus/rules/platform.yml"}
