"""CogStack NLP: MedCAT service (entity extraction API), MedCAT Trainer and Solr.

Faithful to the CogStack NLP IT deployment guide (``shared/seeds/000_*.txt``),
with its weak defaults replaced:

- images pinned to versions instead of ``latest``;
- the Trainer uses PostgreSQL instead of its default SQLite file;
- ``SECRET_KEY`` and the admin password are generated, never typed;
- secure, HttpOnly, SameSite=Strict cookies and registration disabled;
- no service port (5000, 8001, 8983) is opened on the host or firewall: only
  the TLS proxy's 443 (and 80, which only redirects) is reachable, as
  ``medcat-api.<domain>`` and ``medcat-trainer.<domain>``;
- the MedCAT API has no authentication of its own (the guide says so), so
  the proxy demands credentials in front of it;
- the admin user is created by a one-shot job instead of ``createsuperuser``
  typed into a shell.
"""

from __future__ import annotations

from pydantic import Field

from components.specs import (
    GpuSpec,
    HealthCheckSpec,
    PostgresSpec,
    ResourcesSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
)
from stacks.registry import SystemContext, SystemSettings

NAME = "cogstack-nlp"
SERVICES = ("medcat-service", "medcat-trainer", "solr", "trainer-admin")
IMAGES_FROM_CONFIG: tuple[str, ...] = ()
SECRETS = (
    SecretSpec(name="trainer-secret-key", length=64, description="Django SECRET_KEY of MedCAT Trainer"),
    SecretSpec(name="trainer-admin-password", length=32, description="MedCAT Trainer admin password"),
)

MEDCAT_SERVICE_IMAGE = "cogstacksystems/medcat-service:0.5.1"
MEDCAT_TRAINER_IMAGE = "cogstacksystems/medcat-trainer:v2.11.2"
SOLR_IMAGE = "solr:8.11.3"
# The guide's GPU floor: "VRAM: 16 GB minimum", CUDA 11.8+.
GPU_REQUEST = GpuSpec(count=1, min_vram_gb=16)


class Settings(SystemSettings):
    """``overrides.cogstack-nlp.settings``: the guide's app.env / medcat.env knobs."""

    model_pack: str = Field(
        "medcat-snomed-2024.zip", pattern=r"^[A-Za-z0-9._-]+\.zip$", description="Model pack file in the models volume."
    )
    model_name: str = Field("SNOMED-2024", pattern=r"^[A-Za-z0-9._-]+$")
    model_language: str = Field("en", pattern=r"^[a-z]{2}$")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    deid_mode: bool = Field(False, description="MEDCAT_DEID_MODE: de-identify instead of annotate.")
    admin_user: str = Field("trainer-admin", pattern=r"^[a-z][a-z0-9_.-]{2,31}$")
    admin_email: str = Field("trainer-admin@localhost", pattern=r"^[^@\s]+@[^@\s]+$")


def build(ctx: SystemContext) -> SystemSpec:
    """The CogStack NLP services, database and routes for one stack."""
    s: Settings = ctx.settings
    gpu = ctx.gpu("medcat-service", None, when_enabled=GPU_REQUEST)
    api = ctx.size(
        ResourcesSpec(cpus=2, memory_mb=8192, shm_mb=2048),
        ResourcesSpec(cpus=8, memory_mb=32768, shm_mb=8192),
        ResourcesSpec(cpus=16, memory_mb=65536, shm_mb=16384),
    )
    threads = int(api.cpus)
    medcat_env = {
        # app.env
        "APP_NAME": "MedCAT",
        "APP_MODEL_LANGUAGE": s.model_language,
        "APP_MODEL_NAME": s.model_name,
        "APP_MEDCAT_MODEL_PACK": f"/cat/models/{s.model_pack}",
        "APP_BULK_NPROC": str(4 if gpu else threads),
        "APP_TORCH_THREADS": str(0 if gpu else threads),
        "APP_CUDA_DEVICE_COUNT": str(gpu.count if gpu else -1),
        "APP_LOG_LEVEL": s.log_level,
        "SERVER_HOST": "0.0.0.0",
        "SERVER_PORT": "5000",
        "SERVER_WORKERS": str(2 if gpu else max(1, min(4, threads))),
        "SERVER_WORKER_TIMEOUT": "300",
        "SERVER_GUNICORN_MAX_REQUESTS": "1000",
        "SERVER_GUNICORN_MAX_REQUESTS_JITTER": "50",
        # medcat.env
        "MEDCAT_LOG_LEVEL": "40",
        "MEDCAT_ANNOTATIONS_ENTITY_OUTPUT_MODE": "dict",
        "MEDCAT_DEID_MODE": str(s.deid_mode),
        "MEDCAT_DEID_REDACT": str(s.deid_mode),
    }
    medcat_service = ServiceSpec(
        name="medcat-service",
        image=ctx.image("medcat-service", MEDCAT_SERVICE_IMAGE),
        port=5000,
        env=medcat_env,
        # The image ships no curl; probe /api/info with its own Python.
        health=HealthCheckSpec.python_http(5000, "/api/info", start_period_s=120),
        resources=api,
        gpu=gpu,
        volumes=(
            VolumeSpec(name="models", mount_path="/cat/models", read_only=True, size_gb=50),
            VolumeSpec(name="medcat-logs", mount_path="/cat/logs", size_gb=10),
        ),
        replicas=2 if ctx.is_prod else 1,
    )
    trainer_env = {
        "MCTRAINER_PORT": "8001",
        "DATABASE_URL": "${postgres:trainer-db.url}",
        "SECRET_KEY": "${secret:trainer-secret-key}",
        "ALLOWED_HOSTS": "${route:trainer.host}",
        "CSRF_TRUSTED_ORIGINS": "${route:trainer.url}",
        "SESSION_COOKIE_SECURE": "True",
        "SESSION_COOKIE_HTTPONLY": "True",
        "SESSION_COOKIE_SAMESITE": "Strict",
        "CSRF_COOKIE_SECURE": "True",
        "ENABLE_REGISTRATION": "False",
        "DEBUG": "False",
        "WORKER_COUNT": "2",
        "SOLR_HOST": "solr",
        "SOLR_PORT": "8983",
    }
    trainer_volumes = (
        VolumeSpec(name="trainer-media", mount_path="/home/api/media", size_gb=50),
        VolumeSpec(name="trainer-static", mount_path="/home/api/static", size_gb=1),
        VolumeSpec(name="models", mount_path="/home/api/models", read_only=True, size_gb=50),
    )
    trainer = ServiceSpec(
        name="medcat-trainer",
        image=ctx.image("medcat-trainer", MEDCAT_TRAINER_IMAGE),
        port=8001,
        env=trainer_env,
        health=HealthCheckSpec(http_path="/", start_period_s=90),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        volumes=trainer_volumes,
        # The image collects static files and writes under /home/api as root at start-up.
        user=None,
        read_only_root=False,
        depends_on=("solr",),
    )
    solr = ServiceSpec(
        name="solr",
        image=ctx.image("solr", SOLR_IMAGE),
        port=8983,
        health=HealthCheckSpec(http_path="/solr/admin/info/system", start_period_s=60),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        env={"SOLR_HEAP": "1g"},
        volumes=(VolumeSpec(name="solr-data", mount_path="/var/solr", size_gb=20),),
        user="8983:8983",
        # Solr writes pid and logs beside its install; its data lives in the solr-data volume.
        read_only_root=False,
    )
    admin = ServiceSpec(
        name="trainer-admin",
        kind="job",
        image=ctx.image("medcat-trainer", MEDCAT_TRAINER_IMAGE),
        command=("python", "manage.py", "createsuperuser", "--noinput"),
        env={
            "DATABASE_URL": "${postgres:trainer-db.url}",
            "SECRET_KEY": "${secret:trainer-secret-key}",
            "DJANGO_SUPERUSER_USERNAME": s.admin_user,
            "DJANGO_SUPERUSER_EMAIL": s.admin_email,
            "DJANGO_SUPERUSER_PASSWORD": "${secret:trainer-admin-password}",
        },
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        user=None,
        read_only_root=False,
        depends_on=("medcat-trainer",),
    )
    return SystemSpec(
        name=NAME,
        description="MedCAT entity extraction API, MedCAT Trainer and Solr",
        services=(medcat_service, trainer, solr, admin),
        routes=(
            RouteSpec(
                name="api", host="medcat-api", service="medcat-service", auth="basic", max_body_mb=50, timeout_s=600
            ),
            RouteSpec(
                name="trainer",
                host="medcat-trainer",
                service="medcat-trainer",
                auth="app",
                max_body_mb=100,
                timeout_s=600,
            ),
        ),
        postgres=(PostgresSpec(name="trainer-db", database="medcattrainer", user="medcattrainer", storage_gb=20),),
        secrets=SECRETS,
    )
