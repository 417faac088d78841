"""Stenosis detection: FastAPI backend, Celery GPU worker, React frontend, Redis, PostgreSQL, object storage.

What runs, the guide it follows, what it changes from the guide and why: ``docs/systems/stenosis-detection.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.specs import (
    BucketSpec,
    FileSpec,
    GpuSpec,
    HealthCheckSpec,
    PostgresSpec,
    RedisSpec,
    ResourcesSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
)
from stacks.alerts.rules import rule, to_rule_file
from stacks.monitoring import (
    grafana_service,
    prometheus_datasource,
    prometheus_service,
    redis_exporter_service,
    wget_probe,
)
from stacks.registry import SystemContext, SystemSettings

NAME = "stenosis-detection"
SERVICES = ("backend", "worker", "frontend", "db-init", "prometheus", "grafana", "redis-exporter")
IMAGES_FROM_CONFIG: tuple[str, ...] = ("backend", "worker", "frontend")
SECRETS = (
    SecretSpec(name="secret-key", length=64, description="SECRET_KEY of the stenosis backend"),
    SecretSpec(name="grafana-admin-password", length=32, description="Grafana admin password"),
)

# The guide's GPU machines: p3.2xlarge (V100 16 GB) or n1-standard-8 with a T4 (16 GB).
GPU_REQUEST = GpuSpec(count=1, min_vram_gb=16)
# app/core/database.py in the guide: create_async_engine(pool_size=20, max_overflow=10) in every process.
CONNECTIONS_PER_PROCESS = 20 + 10
BACKEND_PORT, FRONTEND_PORT = 8000, 8080
UPLOAD_LIMIT_MB, INFERENCE_TIMEOUT_S = 500, 300
# The guide's security checklist asks for "Rate limiting configured" (seeds/001) without a number. Each API call
# may start a GPU inference of up to INFERENCE_TIMEOUT_S, so one client gets 60 a minute (a burst of 20 for a
# batch of studies); the frontend's page loads keep the platform default.
API_RATE_PER_MINUTE, API_BURST = 60, 20
TASKS_APP = "app.services.tasks"
CELERY_QUEUE = "celery"  # Celery's default queue: a list in the broker's database 0
RULES_PATH = "/etc/prometheus/rules/stenosis.yml"


class Settings(SystemSettings):
    """``overrides.stenosis-detection.settings``: the guide's .env and worker knobs."""

    batch_size: int = Field(4, ge=1, le=64, description="BATCH_SIZE: images per inference batch (GPU memory bound).")
    mixed_precision: bool = Field(True, description="ENABLE_MIXED_PRECISION on GPU; always off on CPU.")
    worker_concurrency_per_gpu: int = Field(
        2, ge=1, le=8, description="Celery processes per GPU (the guide: 1-2 per GPU)."
    )
    worker_concurrency_cpu: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Celery processes without a GPU; unset: one per core of the worker size (4/8/16).",
    )
    worker_pool: Literal["prefork", "solo", "threads"] = Field(
        "prefork", description="Celery pool; 'solo' runs one task at a time (for models that initialise CUDA early)."
    )
    api_workers: int = Field(2, ge=1, le=16, description="uvicorn worker processes per backend replica.")
    max_replicas: int = Field(
        2, ge=1, le=16, description="Most backend or worker replicas you will run; sizes PostgreSQL max_connections."
    )
    app_authentication: bool = Field(
        False, description="True once the application logs users in itself; then the proxy stops asking."
    )
    monitoring: bool = Field(
        True,
        description="Grafana dashboards (the guide's docker-compose.monitoring.yml); Prometheus with the alert "
        "rules, the Redis exporter and Alertmanager always run.",
    )
    grafana_admin_user: str = Field(
        "stenosis-admin",
        pattern=r"^[a-z][a-z0-9_.-]{2,31}$",
        description="Grafana admin login (a named admin, not the guide's admin/admin).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="LOG_LEVEL of the backend and worker (uvicorn and Celery log levels)."
    )


def frontend_nginx_conf() -> str:
    """The frontend's server block: static React build, the guide's gzip, and ``/api`` forwarded to the backend."""
    return f"""server {{
    listen {FRONTEND_PORT};
    server_name _;
    server_tokens off;
    root /usr/share/nginx/html;
    index index.html;
    gzip on;
    gzip_types text/plain text/css application/json application/javascript text/xml application/xml;
    gzip_comp_level 6;
    client_max_body_size {UPLOAD_LIMIT_MB}m;
    # The runtime's resolver of service names, so the backend is resolved per request and may start later.
    resolver ${{dns}} valid=10s ipv6=off;

    location = /healthz {{ access_log off; return 200 "ok"; }}

    location /api {{
        set $backend http://backend:{BACKEND_PORT};
        proxy_pass $backend;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $http_x_real_ip;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # Long-running inference and large studies (the guide's /api block).
        proxy_connect_timeout {INFERENCE_TIMEOUT_S}s;
        proxy_send_timeout {INFERENCE_TIMEOUT_S}s;
        proxy_read_timeout {INFERENCE_TIMEOUT_S}s;
        # Stream uploads to the backend instead of buffering 500 MB in the container.
        proxy_request_buffering off;
    }}

    location /assets/ {{
        expires 1y;
        add_header Cache-Control "public, immutable";
    }}

    location / {{
        try_files $uri $uri/ /index.html;
    }}
}}
"""


def alert_rules() -> str:
    """The backend's errors and latency (prometheus-fastapi-instrumentator's default metrics) and the queue depth.

    ``http_requests_total{status}`` groups codes as ``5xx``; the ``highr`` histogram's buckets reach 60 s.
    The GPU's memory is not watched: the guide ships no GPU exporter (see the README, Alerts).
    """
    errors = (
        'sum(rate(http_requests_total{job="backend",status="5xx"}[5m]))'
        ' / sum(rate(http_requests_total{job="backend"}[5m])) > 0.05'
    )
    p95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_highr_seconds_bucket{job="backend"}[5m])))'
    return to_rule_file(
        [
            {
                "name": "stenosis-application",
                "rules": [
                    rule("BackendHighErrorRate", errors, "5m", "critical", "More than 5% of API requests fail"),
                    rule("BackendSlow", f"{p95} > 30", "10m", "warning", "API p95 latency above 30 s"),
                    rule(
                        "InferenceQueueBacklog",
                        f'redis_key_size{{key="{CELERY_QUEUE}"}} > 100',
                        "10m",
                        "warning",
                        "More than 100 studies wait for the GPU worker",
                    ),
                ],
            }
        ]
    )


def grafana_datasource() -> str:
    """Grafana provisioning: Prometheus as the default data source."""
    return prometheus_datasource()


def build(ctx: SystemContext) -> SystemSpec:
    """The stenosis detection services, data stores and routes for one stack."""
    s: Settings = ctx.settings
    gpu = ctx.gpu("worker", GPU_REQUEST)
    worker_resources = ctx.size(
        ResourcesSpec(cpus=4, memory_mb=16384, shm_mb=2048),
        ResourcesSpec(cpus=8, memory_mb=32768, shm_mb=4096),
        ResourcesSpec(cpus=16, memory_mb=65536, shm_mb=8192),
    )
    if gpu:
        concurrency = s.worker_concurrency_per_gpu * gpu.count
        inference_env = {"DEVICE": "cuda", "ENABLE_MIXED_PRECISION": str(s.mixed_precision)}
    else:
        concurrency = s.worker_concurrency_cpu or int(worker_resources.cpus)
        inference_env = {"DEVICE": "cpu", "ENABLE_MIXED_PRECISION": "False"}
    if s.worker_pool == "solo":
        concurrency = 1
    backend_replicas = ctx.resilience.replicas
    replicas_ceiling = max(s.max_replicas, backend_replicas)
    worker_processes = concurrency if s.worker_pool == "prefork" else 1
    # Every process opens its own pool; +1 process for init_db, +10 for maintenance sessions.
    max_connections = CONNECTIONS_PER_PROCESS * (replicas_ceiling * (s.api_workers + worker_processes) + 1) + 10

    app_env = {
        # The guide's production backend/.env: DEBUG=False, SECRET_KEY, DATABASE_URL=postgresql+asyncpg://...
        "DEBUG": "False",
        "SECRET_KEY": "${secret:secret-key}",
        "DATABASE_URL": "${postgres:db.async_url}",
        # The guide's AWS step: "Update REDIS_URL to ElastiCache endpoint" (Redis is Celery's broker).
        "REDIS_URL": "${redis:broker.url}",
        # Platform choice: Celery's own settings for broker and results (the guide names none; it runs Redis
        # "for Celery" and the app's tasks module would otherwise fall back to its code default).
        "CELERY_BROKER_URL": "${redis:broker.url}",
        "CELERY_RESULT_BACKEND": "${redis:broker.url}",
        # Platform choice: the guide's cloud deployments keep data in S3 / Cloud Storage ("Configure S3 for data
        # storage") without naming settings; these name the buckets and their credentials for the image (AWS_*
        # are the AWS SDK's own variables). STORAGE_BACKEND=s3, which no source names, is not passed.
        "S3_ENDPOINT_URL": "${bucket:uploads.endpoint}",
        "S3_UPLOADS_BUCKET": "${bucket:uploads.name}",
        "S3_RESULTS_BUCKET": "${bucket:results.name}",
        "AWS_ACCESS_KEY_ID": "${bucket:uploads.access_key}",
        "AWS_SECRET_ACCESS_KEY": "${bucket:uploads.secret_key}",
        "AWS_DEFAULT_REGION": "${bucket:uploads.region}",
        # Platform choice: the guide's logging config hard-codes INFO; this makes it a setting.
        "LOG_LEVEL": s.log_level,
        # Uploads of up to 500 MB spool here, not into the 256 MB in-memory /tmp.
        "TMPDIR": "/app/data",
    }
    app_volumes = (
        # Scratch: an upload spool (TMPDIR; uploads and results live in the buckets) and file logs beside stdout,
        # so each VM keeps its own and the backend scales out.
        VolumeSpec(name="data", mount_path="/app/data", size_gb=100, scratch=True),
        VolumeSpec(name="logs", mount_path="/app/logs", size_gb=10, scratch=True),
    )
    uvicorn = (
        "uvicorn",
        "app.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        str(BACKEND_PORT),
        "--workers",
        str(s.api_workers),
        # Only the proxy and this system's containers reach the port; trust their X-Forwarded-For.
        "--proxy-headers",
        "--forwarded-allow-ips",
        "*",
        "--log-level",
        s.log_level.lower(),
    )
    celery = (
        "celery",
        "-A",
        TASKS_APP,
        "worker",
        f"--loglevel={s.log_level}",
        f"--concurrency={concurrency}",
        f"--pool={s.worker_pool}",
        "--prefetch-multiplier=1",
    )
    backend = ServiceSpec(
        name="backend",
        image=ctx.image("backend"),
        port=BACKEND_PORT,
        command=uvicorn,
        env={**app_env, "BACKEND_CORS_ORIGINS": '["${route:web.url}"]'},
        # The guide's Dockerfile HEALTHCHECK.
        health=HealthCheckSpec(http_path="/health", interval_s=30, timeout_s=10, retries=3, start_period_s=5),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        volumes=app_volumes,
        replicas=backend_replicas,
        metrics_path="/metrics",
        depends_on=("db-init",),
    )
    worker = ServiceSpec(
        name="worker",
        image=ctx.image("worker"),
        command=celery,
        env={**app_env, **inference_env, "BATCH_SIZE": str(s.batch_size)},
        health=HealthCheckSpec(
            command=("sh", "-c", f'celery -A {TASKS_APP} inspect ping -d "celery@$HOSTNAME" --timeout 10'),
            interval_s=60,
            timeout_s=30,
            retries=3,
            start_period_s=120,
        ),
        resources=worker_resources,
        gpu=gpu,
        volumes=app_volumes,
        depends_on=("db-init",),
    )
    db_init = ServiceSpec(
        name="db-init",
        kind="job",
        image=ctx.image("backend"),
        command=(
            "python",
            "-c",
            "from app.core.database import init_db; import asyncio; asyncio.run(init_db())",
        ),
        env={"DATABASE_URL": "${postgres:db.async_url}", "SECRET_KEY": "${secret:secret-key}", "DEBUG": "False"},
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
    )
    frontend = ServiceSpec(
        name="frontend",
        image=ctx.image("frontend"),
        port=FRONTEND_PORT,
        # nginx-unprivileged ships busybox wget, not curl.
        health=HealthCheckSpec(
            command=wget_probe(FRONTEND_PORT, "/healthz"),
            interval_s=30,
            start_period_s=10,
        ),
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        user="101:101",
        files=(FileSpec(path="/etc/nginx/conf.d/default.conf", content=frontend_nginx_conf()),),
        depends_on=("backend",),
    )
    services = [db_init, backend, worker, frontend, *_metrics(ctx)]
    api_auth: Literal["app", "basic"] = "app" if s.app_authentication else "basic"
    routes = [
        RouteSpec(
            name="web",
            host="stenosis",
            service="frontend",
            auth=api_auth,
            max_body_mb=UPLOAD_LIMIT_MB,
            timeout_s=INFERENCE_TIMEOUT_S,
        ),
        RouteSpec(
            name="api",
            host="stenosis-api",
            service="backend",
            auth=api_auth,
            max_body_mb=UPLOAD_LIMIT_MB,
            timeout_s=INFERENCE_TIMEOUT_S,
            rate_limit_per_minute=API_RATE_PER_MINUTE,
            burst=API_BURST,
        ),
    ]
    secrets = [SECRETS[0]]
    if s.monitoring:
        services.append(_grafana(ctx, s))
        routes.append(RouteSpec(name="grafana", host="stenosis-grafana", service="grafana", auth="app"))
        secrets.append(SECRETS[1])
    return SystemSpec(
        name=NAME,
        description="Stenosis detection API, Celery GPU worker, React frontend and monitoring",
        services=tuple(services),
        routes=tuple(routes),
        postgres=(
            PostgresSpec(
                name="db",
                database="stenosis",
                user="stenosis_user",
                storage_gb=50,
                max_connections=min(5000, max(100, max_connections)),
            ),
        ),
        redis=(RedisSpec(name="broker", memory_mb=512, persistence=True, eviction_policy="noeviction"),),
        buckets=(BucketSpec(name="uploads"), BucketSpec(name="results")),
        secrets=tuple(secrets),
    )


def _metrics(ctx: SystemContext) -> list[ServiceSpec]:
    """Prometheus with the alert rules (its prometheus.yml: ``stacks.alerts``) and the broker's exporter."""
    prometheus = prometheus_service(
        ctx,
        retention_days=30,
        files=(FileSpec(path=RULES_PATH, content=alert_rules()),),
        depends_on=("redis-exporter",),
    )
    return [redis_exporter_service(ctx, "broker", check_keys=(f"db0={CELERY_QUEUE}",)), prometheus]


def _grafana(ctx: SystemContext, s: Settings) -> ServiceSpec:
    """Grafana, reachable only through its own login."""
    return grafana_service(
        ctx,
        admin_user=s.grafana_admin_user,
        datasources=FileSpec(
            path="/etc/grafana/provisioning/datasources/prometheus.yaml", content=grafana_datasource()
        ),
    )
