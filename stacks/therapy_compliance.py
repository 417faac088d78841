"""Therapy Compliance Analyzer: the multi-user API server (gunicorn + uvicorn workers), PostgreSQL and a Redis cache.

What runs, the guide it follows, what it changes from the guide and why: ``docs/systems/therapy-compliance.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.specs import (
    FileSpec,
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
from stacks.registry import SystemContext, SystemSettings

NAME = "therapy-compliance"
SERVICES = ("api",)
IMAGES_FROM_CONFIG: tuple[str, ...] = ("api",)
SECRETS = (SecretSpec(name="secret-key", length=64, description="SECRET_KEY (JWT signing key) of the API"),)

API_PORT = 8001  # the guide's gunicorn --bind 0.0.0.0:8001
# Upstream src/config.py reads Path(__file__).parent.parent / "config.yaml", the repository root, which the image's
# Dockerfile copies to its WORKDIR /app.
CONFIG_PATH = "/app/config.yaml"
# The guide's load balancer runs three API servers. They write the audit trail to one volume (as the guide's
# gunicorn workers append to one log directory), so on a VM cloud all three run on the VM holding it.
PROD_REPLICAS = 3
# The guide turns rate limiting on (RATE_LIMIT_ENABLED=true, security.rate_limiting: true, and alerts on "Rate
# Limiting Triggers", seeds/004) without a number: a document analysis runs for up to worker_timeout_s, so one
# client gets 120 requests a minute with a burst of 30 (a clinician's page plus a few uploads).
API_RATE_PER_MINUTE, API_BURST = 120, 30


class Settings(SystemSettings):
    """``overrides.therapy-compliance.settings``: the guide's .env, config.yaml and gunicorn knobs."""

    workers: int = Field(4, ge=1, le=32, description="gunicorn worker processes per replica.")
    worker_timeout_s: int = Field(300, ge=30, le=3600, description="gunicorn --timeout (long analyses).")
    keep_alive_s: int = Field(2, ge=1, le=75, description="gunicorn --keep-alive.")
    max_replicas: int = Field(
        PROD_REPLICAS,
        ge=1,
        le=16,
        description="Most API replicas you will run (services.api.replicas); sizes PostgreSQL max_connections.",
    )
    pool_size: int = Field(20, ge=1, le=200, description="config.yaml database.pool_size per process.")
    max_overflow: int = Field(40, ge=0, le=400, description="config.yaml database.max_overflow per process.")
    pool_timeout_s: int = Field(60, ge=1, le=600, description="config.yaml database.pool_timeout.")
    pool_recycle_s: int = Field(3600, ge=60, le=86_400, description="config.yaml database.pool_recycle.")
    access_token_expire_minutes: int = Field(480, ge=5, le=1440, description="ACCESS_TOKEN_EXPIRE_MINUTES.")
    session_timeout_minutes: int = Field(
        480, ge=5, le=1440, description="config.yaml security.session_timeout_minutes."
    )
    max_workers: int = Field(8, ge=1, le=64, description="MAX_WORKERS: analysis threads per process.")
    cache_size_gb: int = Field(4, ge=1, le=256, description="CACHE_SIZE_GB: the application's cache budget.")
    model_cache_size: int = Field(2048, ge=128, le=262_144, description="MODEL_CACHE_SIZE (MB).")
    background_tasks: bool = Field(True, description="BACKGROUND_TASKS_ENABLED (maintenance, purges).")
    model_optimization: bool = Field(True, description="config.yaml performance.model_optimization.")
    max_upload_mb: int = Field(50, ge=1, le=1024, description="Largest document the proxy accepts.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="LOG_LEVEL of the API and gunicorn's --log-level."
    )


def build(ctx: SystemContext) -> SystemSpec:
    """The Therapy Compliance Analyzer's API, database, cache and route for one stack."""
    s: Settings = ctx.settings
    replicas = (
        PROD_REPLICAS if ctx.resilience.replicas > 1 else 1
    )  # the guide's 3 copies wherever services run redundantly
    per_process = s.pool_size + s.max_overflow
    # Every gunicorn worker opens its own pool; +20 for maintenance and the operator's sessions.
    max_connections = per_process * s.workers * max(s.max_replicas, replicas) + 20
    env = {
        # The guide's "Production .env" (Production Configuration > Environment Variables).
        "DATABASE_URL": "${postgres:db.url}",
        "SECRET_KEY": "${secret:secret-key}",
        "ALGORITHM": "HS256",
        "ACCESS_TOKEN_EXPIRE_MINUTES": str(s.access_token_expire_minutes),
        "ENVIRONMENT": "production",
        "MAX_WORKERS": str(s.max_workers),
        "CACHE_SIZE_GB": str(s.cache_size_gb),
        "MODEL_CACHE_SIZE": str(s.model_cache_size),
        "BACKGROUND_TASKS_ENABLED": _flag(s.background_tasks),
        "RATE_LIMIT_ENABLED": "true",
        "AUDIT_LOGGING_ENABLED": "true",
        "PHI_SCRUBBING_STRICT": "true",
        # Platform choice: the guide's ProductionCacheManager hard-codes localhost:6379, which inside a container
        # is not the Redis; these name the system's Redis for the image (the guide names no variable).
        "REDIS_URL": "${redis:cache.url}",
        "REDIS_HOST": "${redis:cache.host}",
        "REDIS_PORT": "${redis:cache.port}",
        "REDIS_PASSWORD": "${redis:cache.password}",
        # Upstream src/config.py: Settings (pydantic-settings) reads log_level from LOG_LEVEL.
        "LOG_LEVEL": s.log_level,
        # Platform choice: no egress, so models come from the image or this volume (Hugging Face's own variables).
        "HF_HOME": "/app/.cache/huggingface",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    gunicorn = (
        "gunicorn",
        "src.api.main:app",
        "--workers",
        str(s.workers),
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--bind",
        f"0.0.0.0:{API_PORT}",
        "--timeout",
        str(s.worker_timeout_s),
        "--keep-alive",
        str(s.keep_alive_s),
        # Only the proxy and this system's containers reach the port; trust their X-Forwarded-For.
        "--forwarded-allow-ips",
        "*",
        "--access-logfile",
        "-",
        "--log-level",
        s.log_level.lower(),
    )
    api = ServiceSpec(
        name="api",
        image=ctx.image("api"),
        port=API_PORT,
        command=gunicorn,
        env=env,
        # The guide's "Production config.yaml", as the file the application reads (upstream src/config.py:
        # <repo root>/config.yaml, the image's WORKDIR /app), not as variables the application never reads.
        files=(FileSpec(path=CONFIG_PATH, content=production_config(s)),),
        # The image is Python; probe /health with it rather than assume curl.
        health=HealthCheckSpec.python_http(API_PORT, "/health", start_period_s=120),
        resources=ctx.size(
            ResourcesSpec(cpus=2, memory_mb=8192, shm_mb=1024),
            ResourcesSpec(cpus=8, memory_mb=16384, shm_mb=2048),
            ResourcesSpec(cpus=16, memory_mb=32768, shm_mb=4096),
        ),
        volumes=(
            VolumeSpec(name="audit-logs", mount_path="/app/logs", size_gb=20),
            # Scratch: model downloads each copy can fetch again.
            VolumeSpec(name="model-cache", mount_path="/app/.cache", size_gb=20, scratch=True),
        ),
        replicas=replicas,
    )
    return SystemSpec(
        name=NAME,
        description="Therapy Compliance Analyzer API (multi-user), PostgreSQL and Redis cache",
        services=(api,),
        routes=(
            RouteSpec(
                name="api",
                host="therapy-compliance",
                service="api",
                auth="app",
                max_body_mb=s.max_upload_mb,
                timeout_s=s.worker_timeout_s,
                rate_limit_per_minute=API_RATE_PER_MINUTE,
                burst=API_BURST,
            ),
        ),
        postgres=(
            PostgresSpec(
                name="db",
                database="compliance",
                user="compliance",
                storage_gb=50,
                max_connections=min(5000, max(100, max_connections)),
            ),
        ),
        redis=(
            RedisSpec(
                name="cache",
                memory_mb=_cache_memory(ctx),
                persistence=False,
                eviction_policy="allkeys-lru",
            ),
        ),
        secrets=SECRETS,
    )


def production_config(s: Settings) -> str:
    """The guide's production config.yaml with the stack's settings.

    The guide writes ``url: ${DATABASE_URL}``; upstream loads the file with ``yaml.safe_load``, which does not
    expand variables, so the platform writes the database URL itself (the file then holds a secret and is
    written root-owned 0440).
    """
    return f"""database:
  url: "${{postgres:db.url}}"
  echo: false
  pool_size: {s.pool_size}
  max_overflow: {s.max_overflow}
  pool_timeout: {s.pool_timeout_s}
  pool_recycle: {s.pool_recycle_s}

performance:
  cache_size_gb: {s.cache_size_gb}
  max_workers: {s.max_workers}
  background_processing: {_flag(s.background_tasks)}
  model_optimization: {_flag(s.model_optimization)}

security:
  rate_limiting: true
  audit_logging: true
  phi_scrubbing_strict: true
  session_timeout_minutes: {s.session_timeout_minutes}

monitoring:
  health_checks: true
  performance_metrics: true
  error_tracking: true
  usage_analytics: true
"""


def _cache_memory(ctx: SystemContext) -> int:
    """Redis memory in MiB by sizing."""
    return {"small": 1024, "medium": 2048, "large": 4096}[ctx.sizing]


def _flag(value: bool) -> str:
    return "true" if value else "false"
