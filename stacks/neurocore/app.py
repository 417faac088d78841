"""Neurocore's application: the one-shot migrations, the API, the Celery workers, Flower and the frontend."""

from __future__ import annotations

from components.specs import HealthCheckSpec, ResourcesSpec, ServiceSpec, VolumeSpec
from stacks.monitoring import wget_probe
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import FLOWER_IMAGE, FLOWER_PORT
from stacks.registry import SystemContext

# Platform choice: the guide asks for "non-root containers" and names no user; 1000:1000 is the first user a
# Dockerfile's useradd creates, which the team's image must let read its code and write /data and /app/logs.
APP_USER = "1000:1000"


def app_env(s: Settings, environment: str) -> dict[str, str]:
    """Environment shared by the API, the workers and the migrations.

    The guide names DB_PASSWORD, SECRET_KEY, OPENAI_API_KEY and SMTP_PASSWORD of its ``.env``; the other names are
    this platform's contract with the team's image (sources: ``stacks/trace/neurocore.py``).
    """
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


def application_services(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """Migrations, API, Celery workers, Flower and the frontend."""
    env = app_env(s, ctx.environment)
    api_image = ctx.image("api")
    data_volumes = (
        VolumeSpec(name="pdfs", mount_path="/data/pdfs", size_gb=100),
        VolumeSpec(name="images", mount_path="/data/images", size_gb=50),
        VolumeSpec(name="logs", mount_path="/app/logs", size_gb=10, scratch=True),
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
        "uvicorn",
        s.api_module,
        "--host",
        "0.0.0.0",
        "--port",
        str(s.api_port),
        "--workers",
        str(s.api_workers),
        "--proxy-headers",
        "--forwarded-allow-ips",
        "*",
        "--log-level",
        s.log_level.lower(),
    )
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
        # Writes the uploaded PDFs and page images (state): on a VM cloud every copy runs on the state VM, sharing
        # the files there as copies on one Docker host do.
        replicas=ctx.resilience.replicas,
        user=APP_USER,
        egress=True,  # OpenAI and SMTP
        metrics_path=s.api_metrics_path,
        depends_on=("migrate",),
    )
    queues = ("--queues", s.worker_queues) if s.worker_queues else ()
    # --task-events: Flower (and its worker metrics) sees tasks only when workers send events.
    celery_worker = (
        "celery",
        "-A",
        s.celery_app,
        "worker",
        f"--loglevel={s.log_level}",
        f"--concurrency={s.worker_concurrency}",
        "--task-events",
        *queues,
    )
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
        # Writes the uploaded PDFs and page images (state): on a VM cloud every copy runs on the state VM, sharing
        # the files there as copies on one Docker host do.
        replicas=ctx.resilience.replicas,
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
        user="1000:1000",  # upstream mher/flower Dockerfile: adduser -u 1000 -G flower flower; USER flower
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
        # Upstream nginx images (docker-library nginx Dockerfile): the nginx user is uid/gid 101; the guide's
        # "Frontend (Nginx)" on 3002 and "non-root containers" (it names no user).
        user="101:101",
        tmpfs=("/tmp", "/var/cache/nginx", "/var/run"),
        depends_on=("api",),
    )
    return [migrate, api, worker, flower, frontend]
