"""Claims OCR agent: FastAPI API, GPU OCR worker, Gmail poller, Redis queue, Prometheus and Grafana.

What runs, the guide it follows, what it changes from the guide and why: ``docs/systems/claims-agent.md``.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import Field, field_validator

from components.specs import (
    FileSpec,
    GpuSpec,
    HealthCheckSpec,
    RedisSpec,
    ResourcesSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
)
from stacks.monitoring import grafana_service, prometheus_datasource, prometheus_service, redis_exporter_service
from stacks.registry import SystemContext, SystemSettings

NAME = "claims-agent"
SERVICES = ("api", "worker", "poller", "prometheus", "grafana", "redis-exporter")
IMAGES_FROM_CONFIG: tuple[str, ...] = ("api", "worker", "poller")
SECRETS = (
    SecretSpec(
        name="gmail-credentials", source="config", description="Gmail OAuth client JSON (gmail_credentials.json)"
    ),
    SecretSpec(
        name="gmail-token",
        source="config",
        description="Gmail OAuth token JSON from the consent flow (gmail_token.json)",
    ),
    SecretSpec(
        name="google-service-account", source="config", description="Google service-account JSON for Sheets and Drive"
    ),
    SecretSpec(name="ncb-api-key", source="config", description="NCB API key"),
    SecretSpec(name="admin-api-key", source="config", description="admin API key of the claims API"),
    SecretSpec(name="smtp-password", source="config", description="SMTP password of the alert mailbox"),
    SecretSpec(name="sentry-dsn", source="config", required=False, description="Sentry DSN (with sentryEnabled)"),
    SecretSpec(name="grafana-admin-password", length=32, description="Grafana admin password"),
)

# The guide's minimum: "NVIDIA GPU with 8GB+ VRAM (RTX 3070 or better)".
GPU_REQUEST = GpuSpec(count=1, min_vram_gb=8)
API_PORT, METRICS_PORT = 8000, 9090
# The guide's nginx: client_max_body_size 30M; proxy_send/read_timeout 120s.
UPLOAD_LIMIT_MB, REQUEST_TIMEOUT_S = 30, 120
SECRETS_DIR = "/app/secrets"
# Credential files the app reads (path variable -> variable carrying the JSON), at the guide's paths.
SECRET_FILES = {
    "GMAIL_CREDENTIALS_PATH": ("GMAIL_CREDENTIALS_JSON", f"{SECRETS_DIR}/gmail_credentials.json"),
    "GMAIL_TOKEN_PATH": ("GMAIL_TOKEN_JSON", f"{SECRETS_DIR}/gmail_token.json"),
    "SHEETS_CREDENTIALS_PATH": ("GOOGLE_SERVICE_ACCOUNT_JSON", f"{SECRETS_DIR}/sheets_credentials.json"),
    "DRIVE_CREDENTIALS_PATH": ("GOOGLE_SERVICE_ACCOUNT_JSON", f"{SECRETS_DIR}/drive_credentials.json"),
}
SECRET_FILE_CONTENTS = {
    "GMAIL_CREDENTIALS_JSON": "${secret:gmail-credentials}",
    "GMAIL_TOKEN_JSON": "${secret:gmail-token}",
    "GOOGLE_SERVICE_ACCOUNT_JSON": "${secret:google-service-account}",
}


def secret_files_entrypoint() -> str:
    """``sh -c`` script: write each credential JSON into the tmpfs, drop it from the env, exec the command."""
    lines = ["set -eu", "umask 077"]
    lines += [f'printf "%s" "${source}" > "${path_var}"' for path_var, (source, _) in SECRET_FILES.items()]
    lines += [f"unset {' '.join(sorted(SECRET_FILE_CONTENTS))}", 'exec "$@"']
    return "\n".join(lines) + "\n"


# The worker and poller serve no HTTP; their probe checks the queue answers with their own credentials.
QUEUE_PROBE = """import os, socket, ssl, sys, urllib.parse as up
u = up.urlparse(os.environ["REDIS_URL"])
s = socket.create_connection((u.hostname, u.port or 6379), timeout=5)
if u.scheme == "rediss":  # TLS-only Redis; verified like the application does, with the URL's CA file if any
    ca = dict(up.parse_qsl(u.query)).get("ssl_ca_certs")
    s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname=u.hostname)
pw = up.unquote(u.password or "").encode()
s.sendall(b"*2\\r\\n$4\\r\\nAUTH\\r\\n$%d\\r\\n%s\\r\\n*1\\r\\n$4\\r\\nPING\\r\\n" % (len(pw), pw))
data = b""
while b"PONG" not in data and b"-" not in data:
    chunk = s.recv(128)
    if not chunk:
        break
    data += chunk
sys.exit(0 if b"+PONG" in data else 1)
"""

# The guide's alerting_rules.yml, verbatim.
ALERTING_RULES = """groups:
  - name: ncb-ocr-alerts
    interval: 30s
    rules:
      - alert: ServiceDown
        expr: up == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Service {{ $labels.job }} is down"

      - alert: HighErrorRate
        expr: rate(http_requests_total{status=~"5.."}[5m]) > 0.05
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High error rate detected"

      - alert: QueueBacklog
        expr: redis_queue_length > 100
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: "Queue backlog exceeds threshold"

      - alert: GPUUtilizationLow
        expr: gpu_utilization < 20
        for: 30m
        labels:
          severity: info
        annotations:
          summary: "GPU utilization is low"
"""
# Under the rule directory every prometheus.yml loads (stacks.alerts.scrape).
RULES_PATH = "/etc/prometheus/rules/guide.yml"
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_HTTPS_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$")


class Settings(SystemSettings):
    """``overrides.claims-agent.settings``: the guide's .env.prod knobs and how the team's images start."""

    api_command: str = Field(description="Command that starts the API on port 8000 (the image's CMD).")
    worker_command: str = Field(description="Command that starts the OCR worker.")
    poller_command: str = Field(description="Command that starts the Gmail poller.")
    ncb_api_base_url: str = Field(description="NCB_API_BASE_URL, e.g. https://ncb.hospital.example/api/v1.")
    sheets_spreadsheet_id: str = Field(pattern=r"^[A-Za-z0-9_-]{10,128}$", description="SHEETS_SPREADSHEET_ID.")
    drive_folder_id: str = Field(pattern=r"^[A-Za-z0-9_-]{10,128}$", description="DRIVE_FOLDER_ID.")
    smtp_username: str = Field(description="SMTP_USERNAME (the alert mailbox's address).")
    alert_recipients: str = Field(description="ALERT_RECIPIENTS: e-mail addresses, comma-separated.")
    smtp_host: str = Field("smtp.gmail.com", pattern=r"^[A-Za-z0-9.-]+$", description="SMTP_HOST.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP_PORT (587: STARTTLS submission).")
    gmail_poll_interval_s: int = Field(30, ge=5, le=3600, description="GMAIL_POLL_INTERVAL in seconds.")
    ocr_batch_size: int = Field(8, ge=1, le=64, description="OCR_BATCH_SIZE (tune with GPU utilisation).")
    ocr_high_confidence_threshold: float = Field(
        0.90, ge=0.5, le=1.0, description="OCR_HIGH_CONFIDENCE_THRESHOLD: at or above, claims go straight to NCB."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="LOG_LEVEL.")
    timezone: str = Field(
        "Asia/Kuala_Lumpur", pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", description="TZ (the guide's server zone)."
    )
    api_auth: Literal["basic", "app"] = Field(
        "basic", description="'basic': the proxy asks for credentials; 'app': the API authenticates every call."
    )
    api_egress: bool = Field(False, description="Let the API reach the internet (NCB, Google, SMTP).")
    worker_egress: bool = Field(False, description="Let the OCR worker reach the internet (NCB, Sheets, Drive).")
    sentry_enabled: bool = Field(False, description="Send errors to SENTRY_DSN (the secret claims-agent-sentry-dsn).")
    app_user: str = Field(
        "10001:10001", pattern=r"^[1-9][0-9]*:[0-9]+$", description="Non-root uid:gid owning /app/data in the images."
    )
    redis_memory_mb: int = Field(512, ge=64, le=65536, description="Redis memory limit (the queue).")
    monitoring: bool = Field(
        True,
        description="Grafana dashboards (docker-compose.monitoring); Prometheus with the guide's alert rules, the "
        "Redis exporter and Alertmanager always run.",
    )
    prometheus_retention_days: int = Field(15, ge=1, le=365, description="How long Prometheus keeps metrics.")
    grafana_admin_user: str = Field(
        "claims-admin",
        pattern=r"^[a-z][a-z0-9_.-]{2,31}$",
        description="Grafana admin login; admin, root and administrator are refused.",
    )

    @field_validator("api_command", "worker_command", "poller_command")
    @classmethod
    def _command_line(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"is not a command line ({exc})") from None
        if not words:
            raise ValueError("is empty; give the command that starts the service, e.g. 'python -m app.worker'")
        return value

    @field_validator("ncb_api_base_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not _HTTPS_URL_RE.match(value):
            raise ValueError(f"'{value}' is not an https:// URL; claims data never travels in plaintext")
        return value

    @field_validator("smtp_username", "alert_recipients")
    @classmethod
    def _addresses(cls, value: str) -> str:
        bad = [a for a in value.split(",") if not _EMAIL_RE.match(a)]
        if bad:
            raise ValueError(f"'{bad[0]}' is not an e-mail address; list addresses separated by commas")
        return value

    @field_validator("grafana_admin_user")
    @classmethod
    def _not_default_admin(cls, value: str) -> str:
        if value in {"admin", "root", "administrator"}:
            raise ValueError(f"'{value}' is a default account name; choose a named admin")
        return value


def _app_env(s: Settings, gpu: GpuSpec | None) -> dict[str, str]:
    """The guide's .env.prod for one service; OCR_USE_GPU follows that service's own GPU request."""
    env = {
        "APP_ENV": "production",
        "APP_DEBUG": "false",
        "LOG_LEVEL": s.log_level,
        "TZ": s.timezone,
        # Read-only root: libraries' caches go to the tmpfs.
        "HOME": "/tmp",
        "GMAIL_POLL_INTERVAL": str(s.gmail_poll_interval_s),
        "NCB_API_BASE_URL": s.ncb_api_base_url,
        "NCB_API_KEY": "${secret:ncb-api-key}",
        "SHEETS_SPREADSHEET_ID": s.sheets_spreadsheet_id,
        "DRIVE_FOLDER_ID": s.drive_folder_id,
        "REDIS_URL": "${redis:redis.url}",
        "OCR_USE_GPU": "true" if gpu else "false",
        "OCR_BATCH_SIZE": str(s.ocr_batch_size),
        "OCR_HIGH_CONFIDENCE_THRESHOLD": f"{s.ocr_high_confidence_threshold:.2f}",
        "ADMIN_API_KEY": "${secret:admin-api-key}",
        "ALERTS_ENABLED": "true",
        "SMTP_HOST": s.smtp_host,
        "SMTP_PORT": str(s.smtp_port),
        "SMTP_USERNAME": s.smtp_username,
        "SMTP_PASSWORD": "${secret:smtp-password}",
        "ALERT_RECIPIENTS": s.alert_recipients,
        "METRICS_ENABLED": "true",
        **{path_var: path for path_var, (_, path) in SECRET_FILES.items()},
        **SECRET_FILE_CONTENTS,
    }
    if s.sentry_enabled:
        env["SENTRY_DSN"] = "${secret:sentry-dsn}"
    if gpu is None:
        # Never probe for CUDA on a CPU-only container.
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _app_command(command: str) -> tuple[str, ...]:
    """The service's command behind the entrypoint that writes the credential files."""
    return ("/bin/sh", "-c", secret_files_entrypoint(), NAME, *shlex.split(command))


def build(ctx: SystemContext) -> SystemSpec:
    """The claims agent's services, queue and routes for one stack."""
    s: Settings = ctx.settings
    gpu = ctx.gpu("worker", GPU_REQUEST)
    # data/temp (attachments between poller and worker), data/models (OCR models), data/logs.
    # Scratch: attachments wait here only until the worker has filed them, and file logs go to stdout too.
    attachments = VolumeSpec(name="attachments", mount_path="/app/data/temp", size_gb=20, scratch=True)
    logs = VolumeSpec(name="logs", mount_path="/app/data/logs", size_gb=10, scratch=True)
    models = VolumeSpec(name="models", mount_path="/app/data/models", read_only=True, size_gb=20)
    app_tmpfs = ("/tmp", SECRETS_DIR)
    api = ServiceSpec(
        name="api",
        image=ctx.image("api"),
        port=API_PORT,
        command=_app_command(s.api_command),
        env=_app_env(s, None),
        # Liveness only: /health/detailed checks Gmail, NCB and Google, which must not restart the API.
        health=HealthCheckSpec.python_http(API_PORT, "/health", python="python", start_period_s=60),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        volumes=(logs,),
        replicas=ctx.resilience.replicas,
        user=s.app_user,
        tmpfs=app_tmpfs,
        egress=s.api_egress,
        # The guide's prometheus.yml scrapes api:9090: the app's metrics listener beside the API port.
        metrics_path="/metrics",
        metrics_port=METRICS_PORT,
    )
    queue_probe = HealthCheckSpec(command=("python", "-c", QUEUE_PROBE), interval_s=30, timeout_s=10, retries=3)
    worker = ServiceSpec(
        name="worker",
        image=ctx.image("worker"),
        command=_app_command(s.worker_command),
        env=_app_env(s, gpu),
        health=queue_probe.model_copy(update={"start_period_s": 180}),
        # The guide's vertical scaling: 8 CPUs and 16 GB per worker.
        resources=ctx.size(
            ResourcesSpec(cpus=4, memory_mb=8192, shm_mb=2048),
            ResourcesSpec(cpus=8, memory_mb=16384, shm_mb=2048),
            ResourcesSpec(cpus=16, memory_mb=32768, shm_mb=4096),
        ),
        gpu=gpu,
        volumes=(attachments, models, logs),
        user=s.app_user,
        tmpfs=app_tmpfs,
        egress=s.worker_egress,
    )
    poller = ServiceSpec(
        name="poller",
        image=ctx.image("poller"),
        command=_app_command(s.poller_command),
        env=_app_env(s, None),
        health=queue_probe,
        resources=ResourcesSpec(cpus=1, memory_mb=1024),
        volumes=(attachments, logs),
        # One poller: two would race for the same messages.
        replicas=1,
        user=s.app_user,
        tmpfs=app_tmpfs,
        egress=True,
    )
    services = [api, worker, poller, *_metrics(ctx, s)]
    routes = [
        RouteSpec(
            name="api",
            host="claims-ocr",
            service="api",
            auth=s.api_auth,
            max_body_mb=UPLOAD_LIMIT_MB,
            timeout_s=REQUEST_TIMEOUT_S,
        ),
    ]
    secrets = [x for x in SECRETS if x.name != "grafana-admin-password"]
    if s.monitoring:
        services.append(_grafana(ctx, s))
        routes.append(RouteSpec(name="grafana", host="claims-grafana", service="grafana", auth="app"))
        secrets = list(SECRETS)
    return SystemSpec(
        name=NAME,
        description="Claims OCR agent: API, GPU OCR worker, Gmail poller, Redis queue and monitoring",
        services=tuple(services),
        routes=tuple(routes),
        redis=(RedisSpec(name="redis", memory_mb=s.redis_memory_mb, persistence=True, eviction_policy="noeviction"),),
        secrets=tuple(secrets),
    )


def _metrics(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """The Redis exporter and Prometheus with the guide's alert rules (its prometheus.yml: ``stacks.alerts``)."""
    prometheus = prometheus_service(
        ctx,
        retention_days=s.prometheus_retention_days,
        files=(FileSpec(path=RULES_PATH, content=ALERTING_RULES),),
        depends_on=("redis-exporter",),
    )
    return [redis_exporter_service(ctx, "redis"), prometheus]


def _grafana(ctx: SystemContext, s: Settings) -> ServiceSpec:
    """Grafana behind its own login, with Prometheus as its data source."""
    return grafana_service(
        ctx,
        admin_user=s.grafana_admin_user,
        datasources=FileSpec(
            path="/etc/grafana/provisioning/datasources/prometheus.yaml", content=prometheus_datasource()
        ),
    )
