"""Neurocore: the neurosurgery knowledge base (FastAPI, React, PostgreSQL 15 + pgvector, Redis, Celery) and its
monitoring stack (Prometheus, Grafana, Loki, Alertmanager, cAdvisor, node exporter).

Faithful to the Neurocore production operations guide (``shared/seeds/002_*.txt``):

- the API (uvicorn) on 8002 and the React build served by nginx on 3002;
  PostgreSQL 15 with pgvector (database ``neurosurgery_kb``, user
  ``neurosurgery_admin``); one Redis 7 for the cache and the Celery queue;
  Celery workers; Flower on 5555; Prometheus, Grafana, Loki, Alertmanager,
  cAdvisor and node exporter on their own ports (9090, 3000, 3100, 9093,
  8080, 9100). The guide's host ports (5434, 6381, 9091, 3003, 3101, 8081,
  9101) only dodged other projects on a shared host; nothing is published
  here, so each listens on its usual port on the system's private network;
- ``alembic upgrade head`` (the guide's ``docker compose run --rm api``) is the
  one-shot ``migrate`` job; the API and the workers start after it;
- the resource limits of the production compose the guide deploys with
  (API 2 CPU / 2 GiB, and the guide's vertical scaling step, 4 CPU / 4 GiB,
  as the ``medium`` size; workers 1.5 CPU / 2 GiB, Flower 0.5 / 512 MiB,
  frontend 0.5 / 256 MiB; Redis 2 GiB), and its non-root users (1000 for the
  application, 101 for nginx);
- ``--scale api=3`` / ``--scale celery-worker=5`` become
  ``overrides.neurocore.services.<api|celery-worker>.replicas``; Prometheus
  finds every replica through Docker's DNS, and PostgreSQL allows 300
  connections so the guide's scale-out fits;
- the guide's alert rule ``HighErrorRate`` verbatim, plus rules for the
  metrics the guide says to watch (API up and p95 latency, workers online,
  database up and connections, host CPU, memory and disk, container memory)
  as Prometheus rule files; Prometheus scrapes every service that exposes
  metrics by its name on the system's backend network; Grafana is
  provisioned with Prometheus, Loki and Alertmanager as data sources;
- the guide's data directories ``data/pdfs``, ``data/images`` and ``logs`` are
  named volumes; ``OPENAI_API_KEY`` is a required config secret; SMTP (the
  application's e-mail) and a Slack webhook (alerts) are optional, as in the
  guide.

Its weak choices are replaced:

- every public image pinned to a version instead of ``latest``; the API,
  worker and frontend are the team's own images from stack config;
- ``DEBUG=false`` always, and the log level cannot be DEBUG (request logs of a
  clinical system must not carry payloads); ``SECRET_KEY`` generated;
- Grafana's ``admin`` user with a password typed into ``.env`` becomes a named
  admin with a generated password; its ``secret_key`` (which encrypts data
  source credentials; the built-in default is public) is generated; sign-up,
  anonymous access, embedding, Gravatar and phone-home are off; cookies are
  secure; its state lives in PostgreSQL instead of its default SQLite file;
- no port is open to the world. The guide publishes Grafana, Prometheus,
  Alertmanager, Flower and the API on the host ("http://your-server:3003"),
  and Docker's published ports bypass the guide's ``ufw`` rules.
  Here only the TLS proxy's 443 (and 80, which only redirects) is reachable:
  ``neurocore.<domain>`` (frontend) and ``neurocore-api.<domain>`` (API and
  ``/api/docs``), both behind the application's own login;
  ``neurocore-flower.<domain>`` and ``neurocore-grafana.<domain>`` behind the
  proxy's basic authentication (Flower has no login; Grafana's login follows).
  Prometheus and Alertmanager have no route (Grafana shows both through its
  data sources) unless ``routeMonitoringUis`` routes them behind basic auth;
- Prometheus runs without ``--web.enable-lifecycle`` (unauthenticated reload
  and shutdown over HTTP); Alertmanager runs without clustering;
- the guide's cache and Celery queue share one Redis, so it evicts nothing
  (``noeviction``): an LRU policy would silently drop queued tasks;
- uvicorn without ``--reload``, with proxy headers from the TLS proxy.

Host mounts, minimised so that no mount needs a policy waiver by default:

- cAdvisor (the guide's compose: privileged, ``/``, ``/var/run``,
  ``/var/lib/docker``, ``/dev/kmsg``) gets only ``/sys/fs/cgroup``
  read-only, runs unprivileged as ``nobody`` and reads the raw cgroup tree.
  The cost: series are labelled by cgroup id (``/system.slice/docker-<id>.scope``)
  rather than container name, and there are no per-container filesystem or
  network counters. ``cadvisorContainerNames: true`` adds the Docker socket
  (and ``/var/lib/docker``) for names; a socket grants root on the host even
  when mounted read-only, so that needs a waiver of
  ``docker-no-privileged-container`` for ``neurocore-cadvisor``;
- node exporter gets ``/proc`` and ``/sys`` read-only, and the filesystem that
  holds ``hostDiskPath`` (default ``/var/lib/docker``: images, volumes and
  container logs, the disk that fills up) as ``/host/root``, reported as
  mountpoint ``/``. ``hostDiskPath: /`` mounts the host's root instead and
  needs a waiver. Host network counters need host networking, which policy
  forbids, so the network collectors are off rather than reporting the
  exporter's own container interface;
- log shipping to Loki (``shipContainerLogs``, off by default) needs
  ``/var/lib/docker/containers``, which also holds every container's
  configuration, environment secrets of other systems included. When on,
  promtail keeps only lines whose Docker log attributes name this system, and
  those attributes need the json-file ``labels`` log option on every
  container (a platform change); until then it ships nothing rather than
  other systems' logs.

Not carried over: the host's cron backups (``scripts/backup``) and the CI/CD
deploy scripts, which run outside the containers, and the guide's database
scaling suggestions (read replicas, PgBouncer).
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from components.specs import (
    FileSpec,
    HealthCheckSpec,
    HostMountSpec,
    PostgresSpec,
    RedisSpec,
    ResourcesSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
)
from stacks.monitoring import PROMETHEUS_PORT, grafana_service, prometheus_service, wget_probe
from stacks.registry import SystemContext, SystemSettings

NAME = "neurocore"
SERVICES = (
    "migrate", "api", "celery-worker", "flower", "frontend",
    "prometheus", "alertmanager", "grafana", "loki", "promtail", "cadvisor", "node-exporter", "postgres-exporter",
)  # fmt: skip
IMAGES_FROM_CONFIG: tuple[str, ...] = ("api", "celery-worker", "frontend")
SECRETS = (
    SecretSpec(name="secret-key", length=64, description="SECRET_KEY of the Neurocore API (signs its tokens)"),
    SecretSpec(name="grafana-admin-password", length=32, description="Grafana admin password"),
    SecretSpec(name="grafana-secret-key", length=32, description="Grafana secret_key (encrypts data source secrets)"),
    SecretSpec(name="openai-api-key", source="config", description="OpenAI API key for Neurocore's AI features"),
    SecretSpec(name="smtp-password", source="config", required=False, description="SMTP password (with smtpHost set)"),
    SecretSpec(
        name="slack-webhook-url",
        source="config",
        required=False,
        description="Slack incoming webhook URL for alerts (with alertSlackChannel set)",
    ),
)

FLOWER_IMAGE = "mher/flower:2.0.1"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.27.0"
LOKI_IMAGE = "grafana/loki:3.3.2"
PROMTAIL_IMAGE = "grafana/promtail:3.3.2"
CADVISOR_IMAGE = "gcr.io/cadvisor/cadvisor:v0.49.1"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.8.2"
POSTGRES_EXPORTER_IMAGE = "prometheuscommunity/postgres-exporter:v0.15.0"

FLOWER_PORT, ALERTMANAGER_PORT = 5555, 9093
LOKI_PORT, PROMTAIL_PORT, CADVISOR_PORT, NODE_EXPORTER_PORT, POSTGRES_EXPORTER_PORT = 3100, 9080, 8080, 9100, 9187
APP_USER = "1000:1000"  # the guide's production compose: user "1000:1000" (appuser in its image)
NOBODY = "65534:65534"  # the Prometheus project's images run as nobody
RULES_DIR = "/etc/prometheus/rules"
UPLOAD_LIMIT_MB, API_TIMEOUT_S = 100, 300
# The guide's alert rule (monitoring/prometheus/alerts.yml), verbatim.
GUIDE_ERROR_RATE_EXPR = 'rate(http_requests_total{status=~"5.."}[5m]) > 0.05'

_MODULE_RE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_HTTP_PATH_RE = r"^/[A-Za-z0-9/_.-]*$"


class Settings(SystemSettings):
    """``overrides.neurocore.settings``: the guide's ``.env`` and compose knobs an operator may change."""

    api_port: int = Field(8002, ge=1024, le=65535, description="Port the API listens on (the guide: 8002).")
    frontend_port: int = Field(3002, ge=1024, le=65535, description="Port the frontend image's nginx listens on.")
    api_module: str = Field(
        "backend.main:app", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", description="ASGI app."
    )
    api_workers: int = Field(4, ge=1, le=32, description="uvicorn processes per API replica (production: 4).")
    api_health_path: str = Field("/health", pattern=_HTTP_PATH_RE, description="API health endpoint.")
    api_metrics_path: str = Field("/metrics", pattern=_HTTP_PATH_RE, description="API Prometheus endpoint.")
    celery_app: str = Field("backend.services.celery_app", pattern=_MODULE_RE, description="celery -A <app>.")
    worker_concurrency: int = Field(4, ge=1, le=64, description="Celery processes per worker (production: 4).")
    worker_queues: str | None = Field(
        None, pattern=r"^[a-z0-9_-]+(,[a-z0-9_-]+)*$", description="Queues to consume; None: the app's own queues."
    )
    log_level: Literal["INFO", "WARNING", "ERROR"] = Field("INFO", description="LOG_LEVEL; never DEBUG.")
    smtp_host: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", description="SMTP server for e-mail notifications."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (STARTTLS).")
    smtp_user: str | None = Field(None, min_length=1, max_length=254, description="SMTP login name.")
    smtp_from: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", description="Sender address.")
    grafana_admin_user: str = Field(
        "neurocore-admin", pattern=r"^[a-z][a-z0-9_.-]{2,31}$", description="Grafana admin login (not 'admin')."
    )
    alert_slack_channel: str | None = Field(
        None, pattern=r"^#[a-z0-9_-]{1,80}$", description="Slack channel for alerts; needs slack-webhook-url."
    )
    metrics_retention_days: int = Field(30, ge=1, le=3650, description="Prometheus retention.")
    log_retention_days: int = Field(31, ge=1, le=3650, description="Loki retention.")
    route_monitoring_uis: bool = Field(False, description="Route Prometheus and Alertmanager behind basic auth.")
    ship_container_logs: bool = Field(
        False, description="Run promtail (reads /var/lib/docker/containers); see the module docstring."
    )
    cadvisor_container_names: bool = Field(
        False, description="Give cAdvisor the Docker socket for container names; needs a policy waiver."
    )
    host_disk_path: str = Field(
        "/var/lib/docker", pattern=r"^/[A-Za-z0-9/_.-]*$", description="Host path whose filesystem is watched."
    )

    @field_validator("host_disk_path")
    @classmethod
    def _no_parent_segments(cls, value: str) -> str:
        # "/var/.." would mount the host's root past the check for "/".
        if ".." in value.split("/"):
            raise ValueError(f"'{value}' has a '..' segment; give the path without it")
        return value


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def prometheus_conf(services: tuple[ServiceSpec, ...], environment: str) -> str:
    """prometheus.yml: every service with a ``metrics_path``, found by its name on the backend network.

    DNS service discovery returns every replica behind a name, so a scaled API
    is scraped replica by replica rather than at random.
    """
    jobs: list[dict[str, Any]] = []
    for svc in services:
        if svc.metrics_path is None or svc.port is None or svc.replicas == 0:
            continue
        job: dict[str, Any] = {"job_name": svc.name, "metrics_path": svc.metrics_path}
        if svc.name == "prometheus":
            job["static_configs"] = [{"targets": [f"127.0.0.1:{svc.port}"]}]
        else:
            job["dns_sd_configs"] = [{"names": [svc.name], "type": "A", "port": svc.port}]
        jobs.append(job)
    return _yaml(
        {
            "global": {
                "scrape_interval": "15s",
                "evaluation_interval": "15s",
                "scrape_timeout": "10s",
                "external_labels": {"system": NAME, "environment": environment},
            },
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"alertmanager:{ALERTMANAGER_PORT}"]}]}]},
            "rule_files": [f"{RULES_DIR}/*.yml"],
            "scrape_configs": jobs,
        }
    )


def _rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def application_rules() -> str:
    """Alert rules on the application: the guide's HighErrorRate and its key application and database metrics."""
    return _yaml(
        {
            "groups": [
                {
                    "name": "neurocore-application",
                    "rules": [
                        _rule("HighErrorRate", GUIDE_ERROR_RATE_EXPR, "5m", "critical", "High error rate detected"),
                        _rule(
                            "ApiDown", 'absent(up{job="api"} == 1)', "2m", "critical",
                            "No Neurocore API replica is up",
                        ),
                        _rule(
                            "ApiReplicaDown", 'up{job="api"} == 0', "5m", "warning",
                            "API replica {{ $labels.instance }} is down",
                        ),
                        _rule(
                            "HighResponseTime",
                            'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 2',
                            "5m", "warning", "API p95 response time above 2 s",
                        ),
                        _rule(
                            "CeleryWorkersOffline", "(sum(flower_worker_online) or vector(0)) < 1", "5m", "critical",
                            "No Celery worker is online; PDFs and chapters are not processed",
                        ),
                    ],
                },
                {
                    "name": "neurocore-database",
                    "rules": [
                        _rule("PostgresDown", "pg_up == 0", "1m", "critical", "PostgreSQL is unreachable"),
                        _rule(
                            "PostgresConnectionsHigh",
                            "sum by (instance) (pg_stat_activity_count) / on (instance) pg_settings_max_connections > 0.8",
                            "5m", "warning", "PostgreSQL uses more than 80% of max_connections",
                        ),
                    ],
                },
            ]
        }
    )  # fmt: skip


def host_rules() -> str:
    """Alert rules on the host and containers (the guide's infrastructure metrics and "Disk Space Full")."""
    disk = 'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"} * 100'
    return _yaml(
        {
            "groups": [
                {
                    "name": "neurocore-host",
                    "rules": [
                        _rule(
                            "HostHighCpu", '100 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100 > 80',
                            "10m", "warning", "Host CPU above 80% for 10 minutes",
                        ),
                        _rule(
                            "HostHighMemory", "(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > 85",
                            "10m", "warning", "Host memory above 85% for 10 minutes",
                        ),
                        _rule("HostDiskSpaceLow", f"{disk} < 15", "5m", "warning", "Less than 15% disk space left"),
                        _rule("HostDiskSpaceCritical", f"{disk} < 10", "5m", "critical", "Less than 10% disk space left"),
                        _rule(
                            "ContainerHighMemory",
                            "container_memory_working_set_bytes / container_spec_memory_limit_bytes > 0.9"
                            " and container_spec_memory_limit_bytes > 0",
                            "5m", "warning", "Container {{ $labels.id }} uses more than 90% of its memory limit",
                        ),
                    ],
                },
                {
                    "name": "neurocore-monitoring",
                    "rules": [
                        _rule(
                            "TargetDown", 'up{job!="api"} == 0', "5m", "warning",
                            "{{ $labels.job }} ({{ $labels.instance }}) cannot be scraped",
                        ),
                    ],
                },
            ]
        }
    )  # fmt: skip


def alertmanager_conf(s: Settings) -> str:
    """alertmanager.yml: alerts grouped per rule; to Slack when a channel is set, else kept in Alertmanager/Grafana."""
    receiver: dict[str, Any] = {"name": "default"}
    if s.alert_slack_channel:
        receiver["slack_configs"] = [
            {"api_url": "${secret:slack-webhook-url}", "channel": s.alert_slack_channel, "send_resolved": True}
        ]
    return _yaml(
        {
            "route": {
                "receiver": "default",
                "group_by": ["alertname", "severity"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
            },
            "receivers": [receiver],
        }
    )


def grafana_datasources() -> str:
    """Grafana provisioning: Prometheus (default), Loki and Alertmanager, not editable in the UI."""
    return _yaml(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy",
                    "url": f"http://prometheus:{PROMETHEUS_PORT}", "isDefault": True, "editable": False,
                },
                {
                    "name": "Loki", "uid": "loki", "type": "loki", "access": "proxy",
                    "url": f"http://loki:{LOKI_PORT}", "editable": False,
                },
                {
                    "name": "Alertmanager", "uid": "alertmanager", "type": "alertmanager", "access": "proxy",
                    "url": f"http://alertmanager:{ALERTMANAGER_PORT}", "jsonData": {"implementation": "prometheus"},
                    "editable": False,
                },
            ],
        }
    )  # fmt: skip


def loki_conf(s: Settings) -> str:
    """loki.yaml: single binary on the loki-data volume, retention enforced by the compactor, no usage reports."""
    return _yaml(
        {
            "auth_enabled": False,
            "server": {"http_listen_port": LOKI_PORT, "grpc_listen_port": 9096, "log_level": "warn"},
            "common": {
                "instance_addr": "127.0.0.1",
                "path_prefix": "/loki",
                "storage": {"filesystem": {"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}},
                "replication_factor": 1,
                "ring": {"kvstore": {"store": "inmemory"}},
            },
            "schema_config": {
                "configs": [
                    {
                        "from": "2024-01-01", "store": "tsdb", "object_store": "filesystem", "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {
                "retention_period": f"{s.log_retention_days * 24}h",
                "reject_old_samples": True,
                "reject_old_samples_max_age": "168h",
            },
            "compactor": {
                "working_directory": "/loki/compactor",
                "retention_enabled": True,
                "delete_request_store": "filesystem",
            },
            "analytics": {"reporting_enabled": False},
        }
    )  # fmt: skip


def promtail_conf() -> str:
    """promtail config: Docker's json-file logs, keeping only this system's lines (by their log attributes)."""
    return _yaml(
        {
            "server": {"http_listen_port": PROMTAIL_PORT, "grpc_listen_port": 0, "log_level": "warn"},
            "positions": {"filename": "/var/lib/promtail/positions.yaml"},
            "clients": [{"url": f"http://loki:{LOKI_PORT}/loki/api/v1/push"}],
            "scrape_configs": [
                {
                    "job_name": "containers",
                    "static_configs": [
                        {
                            "targets": ["localhost"],
                            "labels": {"job": "containers", "__path__": "/var/lib/docker/containers/*/*-json.log"},
                        }
                    ],
                    "pipeline_stages": [
                        {
                            "json": {
                                "expressions": {
                                    "output": "log", "stream": "stream", "time": "time",
                                    "system": 'attrs."clinical.platform/system"',
                                    "service": 'attrs."clinical.platform/service"',
                                }
                            }
                        },
                        {"labels": {"stream": None, "system": None, "service": None}},
                        # Other systems' logs (and lines without attributes) never reach this system's Loki.
                        {"match": {"selector": f'{{job="containers", system!="{NAME}"}}', "action": "drop"}},
                        {"timestamp": {"source": "time", "format": "RFC3339Nano"}},
                        {"output": {"source": "output"}},
                    ],
                }
            ],
        }
    )  # fmt: skip


def _app_env(s: Settings, environment: str) -> dict[str, str]:
    """Environment shared by the API, the workers and the migrations (the guide's .env)."""
    env = {
        "ENVIRONMENT": environment,
        "DEBUG": "false",
        "LOG_LEVEL": s.log_level,
        "SECRET_KEY": "${secret:secret-key}",
        "JWT_SECRET": "${secret:secret-key}",
        "OPENAI_API_KEY": "${secret:openai-api-key}",
        "DATABASE_URL": "${postgres:postgres.url}",
        "DB_HOST": "${postgres:postgres.host}",
        "DB_PORT": "${postgres:postgres.port}",
        "DB_NAME": "${postgres:postgres.database}",
        "DB_USER": "${postgres:postgres.user}",
        "DB_PASSWORD": "${postgres:postgres.password}",
        # libpq and asyncpg read PGSSLMODE: TLS to the database wherever the platform offers it.
        "PGSSLMODE": "${postgres:postgres.sslmode}",
        "REDIS_HOST": "${redis:redis.host}",
        "REDIS_PORT": "${redis:redis.port}",
        "REDIS_PASSWORD": "${redis:redis.password}",
        "REDIS_URL": "${redis:redis.url}",
        "CELERY_BROKER_URL": "${redis:redis.url}",
        "CELERY_RESULT_BACKEND": "${redis:redis.url}",
        "PDF_STORAGE_PATH": "/data/pdfs",
        "IMAGE_STORAGE_PATH": "/data/images",
        "API_URL": "${route:api.url}",
        "FRONTEND_URL": "${route:app.url}",
    }
    if s.smtp_host:
        # Only with a server: an empty SMTP_PASSWORD would be a placeholder secret (and policy says so).
        env |= {
            "SMTP_HOST": s.smtp_host,
            "SMTP_PORT": str(s.smtp_port),
            "SMTP_USER": s.smtp_user or "",
            "SMTP_PASSWORD": "${secret:smtp-password}",
            "SMTP_FROM": s.smtp_from or "",
            "SMTP_TLS": "true",
        }
    return env


def build(ctx: SystemContext) -> SystemSpec:
    """The Neurocore services, data stores and routes for one stack."""
    s: Settings = ctx.settings
    services = [*_application(ctx, s), *_monitoring(ctx, s)]
    prometheus = next(svc for svc in services if svc.name == "prometheus")
    scrape = FileSpec(path="/etc/prometheus/prometheus.yml", content=prometheus_conf(tuple(services), ctx.environment))
    services[services.index(prometheus)] = prometheus.model_copy(update={"files": (scrape, *prometheus.files)})
    routes = [
        RouteSpec(name="app", host="neurocore", service="frontend", auth="app", max_body_mb=UPLOAD_LIMIT_MB),
        RouteSpec(
            name="api", host="neurocore-api", service="api", auth="app",
            max_body_mb=UPLOAD_LIMIT_MB, timeout_s=API_TIMEOUT_S,
        ),
        RouteSpec(name="flower", host="neurocore-flower", service="flower", auth="basic"),
        RouteSpec(name="grafana", host="neurocore-grafana", service="grafana", auth="basic"),
    ]  # fmt: skip
    if s.route_monitoring_uis:
        routes += [
            RouteSpec(name="prometheus", host="neurocore-prometheus", service="prometheus", auth="basic"),
            RouteSpec(name="alertmanager", host="neurocore-alertmanager", service="alertmanager", auth="basic"),
        ]
    return SystemSpec(
        name=NAME,
        description="Neurosurgery knowledge base: FastAPI, React, pgvector, Celery, Flower and monitoring",
        services=tuple(services),
        routes=tuple(routes),
        postgres=(
            PostgresSpec(
                name="postgres",
                version="15",
                database="neurosurgery_kb",
                user="neurosurgery_admin",
                extensions=("vector",),
                storage_gb=100,
                max_connections=300,
                # The guide's production compose: PostgreSQL limited to 2 CPUs and 2 GiB.
                resources=ResourcesSpec(cpus=2, memory_mb=2048, shm_mb=256),
            ),
            PostgresSpec(name="grafana-db", version="15", database="grafana", user="grafana", storage_gb=5),
        ),
        # The guide's production compose: Redis limited to 2 GiB.
        redis=(RedisSpec(name="redis", version="7.2", memory_mb=2048, persistence=True, eviction_policy="noeviction"),),
        secrets=SECRETS,
    )


def _application(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """Migrations, API, Celery workers, Flower and the frontend."""
    env = _app_env(s, ctx.environment)
    api_image = ctx.image("api")
    data_volumes = (
        VolumeSpec(name="pdfs", mount_path="/data/pdfs", size_gb=100),
        VolumeSpec(name="images", mount_path="/data/images", size_gb=50),
        VolumeSpec(name="logs", mount_path="/app/logs", size_gb=10),
    )
    migrate = ServiceSpec(
        name="migrate",
        kind="job",
        image=ctx.image("migrate", api_image),
        command=("alembic", "upgrade", "head"),
        env=env,
        resources=ResourcesSpec(cpus=1, memory_mb=1024),
        user=APP_USER,
    )
    # No --reload; several processes; client addresses from the TLS proxy's headers.
    uvicorn = (
        "uvicorn", s.api_module, "--host", "0.0.0.0", "--port", str(s.api_port), "--workers", str(s.api_workers),
        "--proxy-headers", "--forwarded-allow-ips", "*", "--log-level", s.log_level.lower(),
    )  # fmt: skip
    api = ServiceSpec(
        name="api",
        image=api_image,
        port=s.api_port,
        command=uvicorn,
        env=env,
        # The API image is Python; probe with it rather than count on curl.
        health=HealthCheckSpec.python_http(s.api_port, s.api_health_path, start_period_s=60),
        resources=ctx.size(
            ResourcesSpec(cpus=2, memory_mb=2048),
            ResourcesSpec(cpus=4, memory_mb=4096),
            ResourcesSpec(cpus=8, memory_mb=8192),
        ),
        volumes=data_volumes,
        replicas=2 if ctx.is_prod else 1,
        user=APP_USER,
        egress=True,  # OpenAI and SMTP
        metrics_path=s.api_metrics_path,
        depends_on=("migrate",),
    )
    queues = ("--queues", s.worker_queues) if s.worker_queues else ()
    # --task-events: Flower (and its worker metrics) sees tasks only when workers send events.
    celery_worker = (
        "celery", "-A", s.celery_app, "worker", f"--loglevel={s.log_level}",
        f"--concurrency={s.worker_concurrency}", "--task-events", *queues,
    )  # fmt: skip
    worker = ServiceSpec(
        name="celery-worker",
        image=ctx.image("celery-worker"),
        command=celery_worker,
        env=env,
        health=HealthCheckSpec(
            command=("sh", "-c", f'celery -A {s.celery_app} inspect ping -d "celery@$HOSTNAME" --timeout 10'),
            interval_s=60,
            timeout_s=30,
            retries=3,
            start_period_s=60,
        ),
        resources=ctx.size(
            ResourcesSpec(cpus=1.5, memory_mb=2048),
            ResourcesSpec(cpus=3, memory_mb=4096),
            ResourcesSpec(cpus=6, memory_mb=8192),
        ),
        volumes=data_volumes,
        replicas=2 if ctx.is_prod else 1,
        user=APP_USER,
        egress=True,  # OpenAI
        depends_on=("migrate",),
    )
    flower = ServiceSpec(
        name="flower",
        image=ctx.image("flower", FLOWER_IMAGE),
        port=FLOWER_PORT,
        env={"CELERY_BROKER_URL": "${redis:redis.url}", "FLOWER_PORT": str(FLOWER_PORT)},
        health=HealthCheckSpec(command=wget_probe(FLOWER_PORT, "/healthcheck"), interval_s=30, start_period_s=20),
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        user="1000:1000",  # the flower user of the image
        metrics_path="/metrics",
    )
    frontend = ServiceSpec(
        name="frontend",
        image=ctx.image("frontend"),
        port=s.frontend_port,
        # busybox wget in alpine builds of nginx, curl in Debian ones.
        health=HealthCheckSpec(
            command=(
                "sh",
                "-c",
                f"wget -q -O /dev/null http://127.0.0.1:{s.frontend_port}/ || "
                f"curl -fsS -o /dev/null http://127.0.0.1:{s.frontend_port}/",
            ),
            interval_s=30,
            start_period_s=10,
        ),
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        user="101:101",  # nginx, as in the guide's production compose
        tmpfs=("/tmp", "/var/cache/nginx", "/var/run"),
        depends_on=("api",),
    )
    return [migrate, api, worker, flower, frontend]


def _monitoring(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """Prometheus (its prometheus.yml is added by ``build``), Alertmanager, Grafana, Loki and the exporters."""
    prometheus = prometheus_service(
        ctx,
        retention_days=s.metrics_retention_days,
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        storage_gb=50,
        files=(
            FileSpec(path=f"{RULES_DIR}/application.yml", content=application_rules()),
            FileSpec(path=f"{RULES_DIR}/host.yml", content=host_rules()),
        ),
        metrics_path="/metrics",
        depends_on=("alertmanager",),
    )
    alertmanager = ServiceSpec(
        name="alertmanager",
        image=ctx.image("alertmanager", ALERTMANAGER_IMAGE),
        port=ALERTMANAGER_PORT,
        command=(
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--web.listen-address=:{ALERTMANAGER_PORT}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ),
        health=HealthCheckSpec(command=wget_probe(ALERTMANAGER_PORT, "/-/healthy"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=256),
        user=NOBODY,
        volumes=(VolumeSpec(name="alertmanager-data", mount_path="/alertmanager", size_gb=1),),
        files=(FileSpec(path="/etc/alertmanager/alertmanager.yml", content=alertmanager_conf(s)),),
        egress=s.alert_slack_channel is not None,  # Slack
        metrics_path="/metrics",
    )
    grafana = grafana_service(
        ctx,
        admin_user=s.grafana_admin_user,
        datasources=FileSpec(path="/etc/grafana/provisioning/datasources/neurocore.yml", content=grafana_datasources()),
        extra_env={
            "GF_SERVER_DOMAIN": "${route:grafana.host}",
            "GF_SECURITY_SECRET_KEY": "${secret:grafana-secret-key}",
            "GF_SECURITY_ALLOW_EMBEDDING": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            "GF_LOG_MODE": "console",
            # Users, dashboards and alert state in PostgreSQL, not Grafana's default SQLite file.
            "GF_DATABASE_TYPE": "postgres",
            "GF_DATABASE_HOST": "${postgres:grafana-db.host}:${postgres:grafana-db.port}",
            "GF_DATABASE_NAME": "${postgres:grafana-db.database}",
            "GF_DATABASE_USER": "${postgres:grafana-db.user}",
            "GF_DATABASE_PASSWORD": "${postgres:grafana-db.password}",
            "GF_DATABASE_SSL_MODE": "${postgres:grafana-db.sslmode}",
        },
        user="472:0",  # grafana, group root: the image's own layout
        start_period_s=60,
        metrics_path="/metrics",
        depends_on=("prometheus", "loki", "alertmanager"),
    )
    loki = ServiceSpec(
        name="loki",
        image=ctx.image("loki", LOKI_IMAGE),
        port=LOKI_PORT,
        command=("-config.file=/etc/loki/loki.yaml",),
        health=HealthCheckSpec(command=wget_probe(LOKI_PORT, "/ready"), interval_s=30, start_period_s=60),
        resources=ResourcesSpec(cpus=1, memory_mb=1024),
        user="10001:10001",  # loki, the image's user
        volumes=(VolumeSpec(name="loki-data", mount_path="/loki", size_gb=50),),
        files=(FileSpec(path="/etc/loki/loki.yaml", content=loki_conf(s)),),
        metrics_path="/metrics",
    )
    return [prometheus, alertmanager, grafana, loki, *_exporters(ctx, s)]


def _exporters(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """cAdvisor, node exporter, the PostgreSQL exporter and (opt-in) promtail, with the fewest host mounts."""
    cadvisor_mounts = [HostMountSpec(host_path="/sys/fs/cgroup", mount_path="/sys/fs/cgroup")]
    if s.cadvisor_container_names:
        cadvisor_mounts += [
            HostMountSpec(host_path="/var/run/docker.sock", mount_path="/var/run/docker.sock"),
            HostMountSpec(host_path="/var/lib/docker", mount_path="/var/lib/docker"),
        ]
    cadvisor = ServiceSpec(
        name="cadvisor",
        image=ctx.image("cadvisor", CADVISOR_IMAGE),
        port=CADVISOR_PORT,
        command=(
            f"--port={CADVISOR_PORT}",
            "--housekeeping_interval=30s",
            "--docker_only=false",
            "--store_container_labels=false",
            # Collectors that need privileges or host namespaces this container does not have.
            "--disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,percpu,process,referenced_memory,"
            "resctrl,sched,tcp,udp",
        ),
        health=HealthCheckSpec(command=wget_probe(CADVISOR_PORT, "/healthz"), interval_s=30),
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        # The Docker socket is root:docker 0660, so names need root; cgroup files are world-readable.
        user=None if s.cadvisor_container_names else NOBODY,
        host_mounts=tuple(cadvisor_mounts),
        metrics_path="/metrics",
    )
    whole_root = s.host_disk_path.rstrip("/") == ""
    node_exporter = ServiceSpec(
        name="node-exporter",
        image=ctx.image("node-exporter", NODE_EXPORTER_IMAGE),
        port=NODE_EXPORTER_PORT,
        command=(
            "--path.procfs=/host/proc",
            "--path.sysfs=/host/sys",
            "--path.rootfs=/host/root",
            # Only "/" (the watched filesystem) unless the whole host root is mounted.
            "--collector.filesystem.mount-points-exclude="
            + ("^/(dev|proc|run|sys|host|var/lib/docker/.+)($|/)" if whole_root else "^/.+"),
            # Network counters of the exporter's own container, not the host's: off.
            "--no-collector.netdev",
            "--no-collector.netstat",
            "--no-collector.sockstat",
            "--no-collector.arp",
            "--no-collector.conntrack",
            # /etc/os-release lives under the host's root, which is mounted only when asked for.
            *(() if whole_root else ("--no-collector.os",)),
            f"--web.listen-address=:{NODE_EXPORTER_PORT}",
        ),
        health=HealthCheckSpec(command=wget_probe(NODE_EXPORTER_PORT, "/"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=NOBODY,
        host_mounts=(
            HostMountSpec(host_path="/proc", mount_path="/host/proc"),
            HostMountSpec(host_path="/sys", mount_path="/host/sys"),
            HostMountSpec(host_path=s.host_disk_path, mount_path="/host/root"),
        ),
        metrics_path="/metrics",
    )
    postgres_exporter = ServiceSpec(
        name="postgres-exporter",
        image=ctx.image("postgres-exporter", POSTGRES_EXPORTER_IMAGE),
        port=POSTGRES_EXPORTER_PORT,
        env={"DATA_SOURCE_NAME": "${postgres:postgres.url}"},
        health=HealthCheckSpec(command=wget_probe(POSTGRES_EXPORTER_PORT, "/"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user=NOBODY,
        metrics_path="/metrics",
    )
    exporters = [cadvisor, node_exporter, postgres_exporter]
    if s.ship_container_logs:
        exporters.append(
            ServiceSpec(
                name="promtail",
                image=ctx.image("promtail", PROMTAIL_IMAGE),
                port=PROMTAIL_PORT,
                command=("-config.file=/etc/promtail/promtail.yml",),
                # Ubuntu base without curl or wget: bash's /dev/tcp.
                health=HealthCheckSpec(
                    command=(
                        "bash",
                        "-c",
                        f"exec 3<>/dev/tcp/127.0.0.1/{PROMTAIL_PORT} && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3"
                        " && grep -q ' 200 ' <&3",
                    ),
                    interval_s=30,
                ),
                resources=ResourcesSpec(cpus=0.5, memory_mb=256),
                # Docker's log files are root-only (0640 root); all capabilities stay dropped.
                user=None,
                volumes=(VolumeSpec(name="promtail-positions", mount_path="/var/lib/promtail", size_gb=1),),
                files=(FileSpec(path="/etc/promtail/promtail.yml", content=promtail_conf()),),
                host_mounts=(
                    HostMountSpec(host_path="/var/lib/docker/containers", mount_path="/var/lib/docker/containers"),
                ),
                metrics_path="/metrics",
                depends_on=("loki",),
            )
        )
    return exporters
