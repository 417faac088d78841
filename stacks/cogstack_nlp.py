"""CogStack NLP: MedCAT service (entity extraction API), MedCAT Trainer with its nginx, and Solr.

What runs, the guide it follows, what it changes from the guide and why: ``docs/systems/cogstack-nlp.md``.
"""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator

from components.model_packs import FETCH_IMAGE, fetch_job
from components.specs import (
    FileSpec,
    GpuSpec,
    HealthCheckSpec,
    ModelPackSpec,
    ResourcesSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    VolumeSpec,
    check_model_pack_source,
)
from stacks.registry import SystemContext, SystemSettings

NAME = "cogstack-nlp"
SERVICES = ("medcat-service", "medcat-trainer", "trainer-nginx", "solr", "trainer-admin", "model-pack")
IMAGES_FROM_CONFIG: tuple[str, ...] = ()
SECRETS = (
    SecretSpec(name="trainer-secret-key", length=64, description="Django SECRET_KEY of MedCAT Trainer"),
    SecretSpec(name="trainer-admin-password", length=32, description="MedCAT Trainer admin password"),
)

MEDCAT_SERVICE_IMAGE = "cogstacksystems/medcat-service:0.6.1"
MEDCAT_SERVICE_GPU_IMAGE = "cogstacksystems/medcat-service-gpu:0.6.1"
MEDCAT_TRAINER_IMAGE = "cogstacksystems/medcat-trainer:v2.11.2"
# The platform proxy's unprivileged nginx; serves what upstream's medcat-trainer-nginx image serves.
TRAINER_NGINX_IMAGE = "nginxinc/nginx-unprivileged:1.27.3-alpine"
SOLR_IMAGE = "solr:8.11.3"
# The guide's GPU floor: "VRAM: 16 GB minimum", CUDA 11.8+.
GPU_REQUEST = GpuSpec(count=1, min_vram_gb=16)

MEDCAT_PORT = 5000  # start-service-prod.sh@v0.6.1: gunicorn --bind $SERVER_HOST:$SERVER_PORT
TRAINER_PORT = 8000  # webapp/run.sh@v2.11.2: uwsgi --http :8000
TRAINER_NGINX_PORT = 8000  # nginx/sites-enabled/medcattrainer@v2.11.2: listen 8000
SOLR_PORT = 8983  # 8.11/Dockerfile (apache/solr-docker): EXPOSE 8983
TRAINER_BODY_MB = 100
TRAINER_TIMEOUT_S = 600
MODELS_DIR = "/cat/models"
TRAINER_SETTINGS_MODULE = "core.platform_settings"
TRAINER_SETTINGS_PATH = "/home/api/core/platform_settings.py"

# Layered on the image's own core/settings.py (imported first, so everything else stays upstream's).
TRAINER_SETTINGS = '''"""MedCAT Trainer settings of the clinical platform, on top of the image's core/settings.py (v2.11.2).

Upstream reads SECRET_KEY only to refuse to start without it when ENV=prod, then uses a key that is
published in its repository; it sets no cookie flags.
"""
import os

from core.settings import *  # noqa: F401,F403

SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SECURE = True
'''

# Run by the trainer-admin job before the Trainer starts: Django 2.2 (the image's) has no
# DJANGO_SUPERUSER_PASSWORD support in createsuperuser, so the job migrates and creates the user itself.
ADMIN_BOOTSTRAP = """import os
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
call_command("migrate", interactive=False)
User = get_user_model()
name = os.environ["DJANGO_SUPERUSER_USERNAME"]
if not User.objects.filter(username=name).exists():
    User.objects.create_superuser(name, os.environ["DJANGO_SUPERUSER_EMAIL"], os.environ["DJANGO_SUPERUSER_PASSWORD"])
"""


def trainer_nginx_conf() -> str:
    """nginx in front of the Trainer, after upstream's ``nginx/sites-enabled/medcattrainer`` (v2.11.2).

    Upstream serves ``/static`` and ``/media`` from the Trainer's volumes and forwards all of
    ``/api/concepts/`` to Solr. Here: ``/static`` only (``/media`` holds uploaded datasets and
    models), and of Solr only the read-only ``select`` the UI calls (ConceptDetailService.js).
    """
    return f"""pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server_tokens off;
    access_log /dev/stdout combined;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    # The runtime's resolver of service names, so upstreams are resolved per request and may start after nginx.
    resolver ${{dns}} valid=10s ipv6=off;

    server {{
        listen {TRAINER_NGINX_PORT};
        server_name _;
        charset utf-8;
        client_max_body_size {TRAINER_BODY_MB}m;

        location = /healthz {{ access_log off; return 200 "ok"; }}

        location /static {{
            alias /home/api/static;
        }}

        location ~ ^/api/concepts/(?<collection>[A-Za-z0-9_.-]+)/select$ {{
            limit_except GET {{ deny all; }}
            set $solr http://solr:{SOLR_PORT};
            proxy_pass $solr/solr/$collection/select$is_args$args;
        }}

        location /api/concepts/ {{
            return 403;
        }}

        location / {{
            set $trainer http://medcat-trainer:{TRAINER_PORT};
            proxy_pass $trainer;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $http_x_real_ip;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_connect_timeout {TRAINER_TIMEOUT_S}s;
            proxy_send_timeout {TRAINER_TIMEOUT_S}s;
            proxy_read_timeout {TRAINER_TIMEOUT_S}s;
            proxy_request_buffering off;
        }}
    }}
}}
"""


class Settings(SystemSettings):
    """``overrides.cogstack-nlp.settings``: the MedCAT service's app.env / medcat.env knobs."""

    model_pack: str = Field(
        "medcat-snomed-2024.zip",
        pattern=r"^[A-Za-z0-9._-]+\.zip$",
        description="Model pack file in the models volume, unpacked beside it (by the model-pack job with "
        "modelPackSource, else by MedCAT on first start).",
    )
    model_pack_source: str | None = Field(
        None,
        description="Where the model pack comes from: https://host/path, s3://bucket/key (AWS), gs://bucket/object "
        "(GCP) or a file path on the Docker host. A job fetches it, checks modelPackSha256 and unpacks it before the "
        "MedCAT service starts, which then mounts it read-only. Unset: the pack is placed in the models volume by hand.",
    )
    model_pack_sha256: str | None = Field(
        None,
        validate_default=True,
        description="SHA-256 of the model pack (64 lowercase hex digits, `sha256sum <pack>.zip`); required with "
        "modelPackSource. A pack with another checksum is refused and the MedCAT service does not start.",
    )

    @field_validator("model_pack_source")
    @classmethod
    def _fetchable(cls, value: str | None) -> str | None:
        return None if value is None else check_model_pack_source(value)

    @field_validator("model_pack_sha256")
    @classmethod
    def _with_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("model_pack_source"):
            raise ValueError(
                "required with modelPackSource: the pack is only used once its checksum matches; "
                "set it to the output of `sha256sum <pack>.zip`"
            )
        if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError(
                f"'{value}' is not a SHA-256; use the 64 lowercase hex digits `sha256sum <pack>.zip` prints"
            )
        return value

    @property
    def model_pack_spec(self) -> ModelPackSpec | None:
        """The pack's source and checksum, when the platform fetches it."""
        if self.model_pack_source is None or self.model_pack_sha256 is None:
            return None
        return ModelPackSpec(source=self.model_pack_source, sha256=self.model_pack_sha256)

    model_name: str = Field(
        "SNOMED-2024", pattern=r"^[A-Za-z0-9._-]+$", description="APP_MODEL_NAME: the name /api/info reports."
    )
    model_language: str = Field(
        "en", pattern=r"^[a-z]{2}$", description="APP_MODEL_LANGUAGE: two-letter language code."
    )
    log_level: str = Field(
        "INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="APP_LOG_LEVEL of the MedCAT service."
    )
    deid_mode: bool = Field(
        False,
        description="DEID_MODE and DEID_REDACT: return the text with PHI redacted instead of annotations "
        "(needs a de-identification model pack).",
    )
    admin_user: str = Field(
        "trainer-admin",
        pattern=r"^[a-z][a-z0-9_.-]{2,31}$",
        description="MedCAT Trainer admin login, created with a generated password before the Trainer starts.",
    )
    admin_email: str = Field(
        "trainer-admin@localhost", pattern=r"^[^@\s]+@[^@\s]+$", description="E-mail of the Trainer admin."
    )


def build(ctx: SystemContext) -> SystemSpec:
    """The CogStack NLP services and routes for one stack."""
    s: Settings = ctx.settings
    gpu = ctx.gpu("medcat-service", None, when_enabled=GPU_REQUEST)
    api = ctx.size(
        ResourcesSpec(cpus=2, memory_mb=8192, shm_mb=2048),
        ResourcesSpec(cpus=8, memory_mb=32768, shm_mb=8192),
        ResourcesSpec(cpus=16, memory_mb=65536, shm_mb=16384),
    )
    threads = int(api.cpus)
    # Every key is read by the image at 0.6.1 (CogStack/MedCATservice tag v0.6.1).
    medcat_env = {
        # medcat_service/nlp_processor/medcat_processor.py@v0.6.1 (returned by /api/info)
        "APP_NAME": "MedCAT",
        "APP_MODEL_LANGUAGE": s.model_language,
        "APP_MODEL_NAME": s.model_name,
        # medcat_processor.py@v0.6.1: CAT.load_model_pack unpacks to <dir>/<name without .zip>
        "APP_MEDCAT_MODEL_PACK": f"{MODELS_DIR}/{s.model_pack}",
        # medcat_processor.py@v0.6.1: nproc of multiprocessing_batch_char_size in /api/process_bulk
        "APP_BULK_NPROC": str(4 if gpu else threads),
        # medcat_processor.py@v0.6.1: torch.set_num_threads only when > 0 (0 leaves torch alone on a GPU)
        "APP_TORCH_THREADS": str(0 if gpu else threads),
        # config.py@v0.6.1 (gunicorn post_fork): CUDA_VISIBLE_DEVICES per worker when > 0
        "APP_CUDA_DEVICE_COUNT": str(gpu.count if gpu else -1),
        # medcat_service/app/app.py@v0.6.1: a logging level name
        "APP_LOG_LEVEL": s.log_level,
        # medcat_processor.py@v0.6.1: "dict" or "list"
        "ANNOTATIONS_ENTITY_OUTPUT_MODE": "dict",
        # medcat_processor.py@v0.6.1: eval()-ed, so Python literals True / False
        "DEID_MODE": str(s.deid_mode),
        "DEID_REDACT": str(s.deid_mode),
        # start-service-prod.sh@v0.6.1: gunicorn --bind/--workers/--timeout (each worker loads the model)
        "SERVER_HOST": "0.0.0.0",
        "SERVER_PORT": str(MEDCAT_PORT),
        "SERVER_WORKERS": str(2 if gpu else max(1, min(4, threads))),
        "SERVER_WORKER_TIMEOUT": "300",
    }
    # Scratch: the pack unpacked (by MedCAT or the model-pack job), which every VM rebuilds from its source, so the
    # service's copies run side by side on their own VMs.
    models = VolumeSpec(name="models", mount_path=MODELS_DIR, size_gb=50, scratch=True)
    pack = s.model_pack_spec
    pack_job = fetch_job(pack, models, s.model_pack, ctx.image("model-pack", FETCH_IMAGE)) if pack else None
    medcat_service = ServiceSpec(
        name="medcat-service",
        image=ctx.image("medcat-service", MEDCAT_SERVICE_GPU_IMAGE if gpu else MEDCAT_SERVICE_IMAGE),
        port=MEDCAT_PORT,
        env=medcat_env,
        # The image ships no curl (python:3.11-slim); probe /api/info with its own Python.
        health=HealthCheckSpec.python_http(MEDCAT_PORT, "/api/info", start_period_s=120),
        resources=api,
        gpu=gpu,
        # MedCAT unpacks the pack beside the zip unless it is unpacked already (upstream's compose mounts the
        # models :rw): read-only when the model-pack job has fetched, verified and unpacked it.
        volumes=(models.model_copy(update={"read_only": pack_job is not None}),),
        replicas=ctx.resilience.replicas,
        depends_on=(pack_job.name,) if pack_job else (),
    )
    trainer_env = {
        # core/settings.py@v2.11.2: realm; "prod" refuses to start without SECRET_KEY (envs/env-prod)
        "ENV": "prod",
        # Read by platform_settings.py; upstream's settings only check that it is set
        "SECRET_KEY": "${secret:trainer-secret-key}",
        # manage.py and core/wsgi.py@v2.11.2 only setdefault it, so this wins for uwsgi and every command
        "DJANGO_SETTINGS_MODULE": TRAINER_SETTINGS_MODULE,
        # core/settings.py@v2.11.2: DEBUG = os.environ.get('DEBUG', True); only "" is false ("False" is true)
        "DEBUG": "",
        # core/settings.py@v2.11.2: SOLR_HOST / SOLR_PORT of the concept search
        "CONCEPT_SEARCH_SERVICE_HOST": "solr",
        "CONCEPT_SEARCH_SERVICE_PORT": str(SOLR_PORT),
        # api/views.py@v2.11.2 behind_reverse_proxy: bool(int(...)); the UI then takes deep links
        "BEHIND_RP": "1",
        # envs/env-prod@v2.11.2: "Required for later numpy versions"
        "OPENBLAS_NUM_THREADS": "1",
    }
    # Exclusive: db.sqlite3, which one Django process at a time writes safely (so one Trainer, one admin job).
    sqlite = VolumeSpec(name="trainer-sqlite", mount_path="/home/api/db", size_gb=20, exclusive=True)
    # run.sh@v2.11.2 collects the static files into it at every start: scratch, rebuilt by each start.
    static = VolumeSpec(name="trainer-static", mount_path="/home/api/static", size_gb=1, scratch=True)
    trainer = ServiceSpec(
        name="medcat-trainer",
        image=ctx.image("medcat-trainer", MEDCAT_TRAINER_IMAGE),
        # docker-compose.yml@v2.11.2: command: /home/run.sh (webapp/Dockerfile sets no CMD)
        command=("/home/run.sh",),
        port=TRAINER_PORT,
        env=trainer_env,
        # python:3.11 (not slim) ships curl.
        health=HealthCheckSpec(http_path="/", start_period_s=120),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        # docker-compose.yml@v2.11.2 volumes api-media, api-static, api-db (core/settings.py: db/db.sqlite3)
        volumes=(VolumeSpec(name="trainer-media", mount_path="/home/api/media", size_gb=50), static, sqlite),
        files=(FileSpec(path=TRAINER_SETTINGS_PATH, content=TRAINER_SETTINGS),),
        # The image has no USER: run.sh writes the root-owned /home/api (static, db, media) as root.
        user=None,
        # run.sh runs makemigrations, which writes into the image's /home/api/api/migrations.
        read_only_root=False,
        depends_on=("trainer-admin", "solr"),
    )
    trainer_nginx = ServiceSpec(
        name="trainer-nginx",
        image=ctx.image("trainer-nginx", TRAINER_NGINX_IMAGE),
        port=TRAINER_NGINX_PORT,
        # The alpine image ships busybox wget, not curl.
        health=HealthCheckSpec(
            command=("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{TRAINER_NGINX_PORT}/healthz"),
            start_period_s=10,
        ),
        resources=ResourcesSpec(cpus=0.5, memory_mb=256),
        volumes=(static.model_copy(update={"read_only": True}),),
        files=(FileSpec(path="/etc/nginx/nginx.conf", content=trainer_nginx_conf()),),
        user="101:101",
        depends_on=("medcat-trainer",),
    )
    solr = ServiceSpec(
        name="solr",
        image=ctx.image("solr", SOLR_IMAGE),
        # docker-compose.yml@v2.11.2 (MedCATtrainer): command: -cloud; docker-entrypoint.sh prefixes solr-foreground
        command=("-cloud",),
        port=SOLR_PORT,
        # The image installs wget, not curl (8.11/Dockerfile).
        health=HealthCheckSpec(
            command=("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{SOLR_PORT}/solr/admin/info/system"),
            start_period_s=60,
        ),
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        # bin/solr: heap size of the JVM
        env={"SOLR_HEAP": "1g"},
        # SOLR_HOME, SOLR_PID_DIR, SOLR_LOGS_DIR and the embedded ZooKeeper's data are all under /var/solr.
        # Exclusive: Lucene's write.lock and the embedded ZooKeeper allow one Solr per directory.
        volumes=(VolumeSpec(name="solr-data", mount_path="/var/solr", size_gb=20, exclusive=True),),
        user="8983:8983",  # 8.11/Dockerfile: USER $SOLR_UID (8983), owner of /var/solr
        # Not verified that Jetty writes nothing under /opt/solr/server, so the root stays writable.
        read_only_root=False,
    )
    admin = ServiceSpec(
        name="trainer-admin",
        kind="job",
        image=ctx.image("medcat-trainer", MEDCAT_TRAINER_IMAGE),
        # Upstream's run.sh creates admin/admin when there is no user: this job creates the admin first.
        command=("python", "-c", ADMIN_BOOTSTRAP),
        env={
            "DJANGO_SUPERUSER_USERNAME": s.admin_user,
            "DJANGO_SUPERUSER_EMAIL": s.admin_email,
            "DJANGO_SUPERUSER_PASSWORD": "${secret:trainer-admin-password}",
        },
        resources=ResourcesSpec(cpus=0.5, memory_mb=1024),
        volumes=(sqlite,),
        # The SQLite volume is root's, like everything the Trainer writes.
        user=None,
    )
    return SystemSpec(
        name=NAME,
        description="MedCAT entity extraction API, MedCAT Trainer and Solr",
        services=(medcat_service, trainer, trainer_nginx, solr, admin, *((pack_job,) if pack_job else ())),
        routes=(
            RouteSpec(
                name="api", host="medcat-api", service="medcat-service", auth="basic", max_body_mb=50, timeout_s=600
            ),
            RouteSpec(
                name="trainer",
                host="medcat-trainer",
                service="trainer-nginx",
                auth="app",
                max_body_mb=TRAINER_BODY_MB,
                timeout_s=TRAINER_TIMEOUT_S,
            ),
        ),
        secrets=SECRETS,
    )
