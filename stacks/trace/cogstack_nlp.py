"""CogStack NLP against its IT Deployment Guide (seed 000).

The MedCAT service and Trainer are public images, so where the guide and the image at its pinned tag disagree
the image wins (it is what runs) and the row says so; the module's comments cite the upstream file of each value.
"""

from __future__ import annotations

from stacks.trace import Element, Row, Source, Trace

_MS = "services.medcat-service"
_TR = "services.medcat-trainer"

ELEMENTS = (
    Element("medcat-service", "What You're Deploying", "**MedCAT Service**: REST API for entity extraction"),
    Element("medcat-trainer", "What You're Deploying", "**MedCAT Trainer**: Web application for model training"),
    Element("demo-apps", "What You're Deploying", "**Demo Applications**: Testing and demonstration interfaces"),
    Element("port-medcat", "Network Ports", "| MedCAT Service | 5000 | HTTP | REST API |"),
    Element("port-trainer", "Network Ports", "| MedCAT Trainer | 8001 | HTTP | Web UI |"),
    Element("port-solr", "Network Ports", "| Solr | 8983 | HTTP | Search index |"),
    Element("postgresql", "Network Ports", "| PostgreSQL | 5432 | TCP | Database (internal) |"),
    Element("proxy", "Network Ports", "| Nginx | 80/443 | HTTP/HTTPS | Reverse proxy |"),
    Element("hardware", "Recommended (Production)", "**CPU**: 8-16 cores (or GPU: NVIDIA with CUDA support)"),
    Element("gpu", "GPU Support (Optional, for high-throughput)", "**VRAM**: 16 GB minimum"),
    Element("model-storage", "1.4 Configure Storage", "# Example: Mount a 500GB volume to /opt/cogstack/models"),
    Element("firewall", "1.5 Configure Firewall", "sudo ufw allow 5000/tcp  # MedCAT Service"),
    Element(
        "model-pack", "2.3 Configure Environment Variables", "APP_MEDCAT_MODEL_PACK=/cat/models/medcat-snomed-2024.zip"
    ),
    Element("app-identity", "2.3 Configure Environment Variables", "APP_MODEL_NAME=SNOMED-2024"),
    Element("bulk-threads", "2.3 Configure Environment Variables", "APP_BULK_NPROC=8"),
    Element("server", "2.3 Configure Environment Variables", "SERVER_WORKERS=4          # Number of Gunicorn workers"),
    Element("max-requests", "2.3 Configure Environment Variables", "SERVER_GUNICORN_MAX_REQUESTS=1000"),
    Element("cuda-devices", "2.3 Configure Environment Variables", "APP_CUDA_DEVICE_COUNT=-1  # Set to 1 if using GPU"),
    Element("log-level", "2.3 Configure Environment Variables", "APP_LOG_LEVEL=INFO"),
    Element("medcat-log-level", "MedCAT Configuration", "MEDCAT_LOG_LEVEL=40  # ERROR level"),
    Element("output-mode", "MedCAT Configuration", "MEDCAT_ANNOTATIONS_ENTITY_OUTPUT_MODE=dict"),
    Element("deid", "MedCAT Configuration", "MEDCAT_DEID_MODE=False"),
    Element("shm", "General Configuration", "DOCKER_SHM_SIZE=8g  # 8GB recommended for bulk processing"),
    Element("image", "2.4 Create Docker Compose Configuration", "image: cogstacksystems/medcat-service:latest"),
    Element("models-mount", "2.4 Create Docker Compose Configuration", "- /opt/cogstack/models:/cat/models:ro"),
    Element("service-logs", "2.4 Create Docker Compose Configuration", "- /opt/cogstack/logs/medcat-service:/cat/logs"),
    Element(
        "healthcheck",
        "2.4 Create Docker Compose Configuration",
        'test: ["CMD", "curl", "-f", "http://localhost:5000/api/info"]',
    ),
    Element("trainer-port", "3.1 Configure MedCAT Trainer", "MCTRAINER_PORT=8001"),
    Element("trainer-db", "3.1 Configure MedCAT Trainer", "DATABASE_URL=sqlite:////home/api/db/trainer.db"),
    Element("trainer-secret", "3.1 Configure MedCAT Trainer", "SECRET_KEY=<generate-random-secret-key>"),
    Element("trainer-hosts", "3.1 Configure MedCAT Trainer", "ALLOWED_HOSTS=your-domain.com,localhost"),
    Element("trainer-cookies", "3.1 Configure MedCAT Trainer", "SESSION_COOKIE_SAMESITE=Strict"),
    Element("trainer-registration", "3.1 Configure MedCAT Trainer", "ENABLE_REGISTRATION=False"),
    Element("trainer-workers", "3.1 Configure MedCAT Trainer", "WORKER_COUNT=2"),
    Element("trainer-services", "3.2 Deploy MedCAT Trainer", "# - medcattrainer\n# - nginx\n# - solr"),
    Element("admin-user", "3.3 Create Admin User", "python manage.py createsuperuser"),
    Element("proxy-timeouts", "4.1 Set Up Reverse Proxy (Nginx)", "proxy_read_timeout 600s;"),
    Element("proxy-body", "4.1 Set Up Reverse Proxy (Nginx)", "client_max_body_size 50M;"),
    Element("tls", "4.2 Set Up SSL Certificates", "# Option B: Using organizational certificates"),
    Element("log-rotation", "4.3 Configure Log Rotation", "#### 4.3 Configure Log Rotation"),
    Element("systemd", "4.4 Set Up Systemd Services", "#### 4.4 Set Up Systemd Services"),
    Element(
        "network-allowlist", "Security: Network Security", "sudo ufw allow from 10.0.0.0/8 to any port 5000 proto tcp"
    ),
    Element("api-auth", "Security: API Authentication", "MedCAT Service doesn't include built-in authentication."),
    Element("encryption-at-rest", "Security: Data Encryption", "**At-rest**: Encrypt volumes using LUKS"),
    Element("non-root", "Security: Container Security", 'user: "1000:1000"  # UID:GID'),
    Element("audit-log", "Security: Audit Logging", "'filename': '/cat/logs/audit.log',"),
    Element("prometheus", "Prometheus Integration (Advanced)", '- "prometheus.path=/metrics"'),
    Element("elk", "Log Aggregation (ELK Stack)", "integrate with Elasticsearch/Logstash/Kibana"),
    Element("backups", "Backup & Recovery", "- Trainer database: Daily (after annotation sessions)"),
)

ROWS = (
    Row(
        "medcat-service", "service", "match", (_MS,), "cogstacksystems/medcat-service 0.6.1 (the GPU image with a GPU)"
    ),
    Row(
        "medcat-trainer",
        "service",
        "match",
        (_TR, f"{_TR}.command"),
        "cogstacksystems/medcat-trainer v2.11.2 running upstream's /home/run.sh",
    ),
    Row("demo-apps", "service", "not-applicable", (), "demonstration interfaces are not part of a clinical deployment"),
    Row("port-medcat", "port", "match", (f"{_MS}.port", f"{_MS}.env.SERVER_PORT", f"{_MS}.env.SERVER_HOST")),
    Row(
        "port-trainer",
        "port",
        "deviates",
        (f"{_TR}.port", "services.trainer-nginx.port"),
        "the guide contradicts the image: upstream run.sh@v2.11.2 serves uwsgi on 8000 (8001 is only the host port "
        "of upstream's compose); the image's 8000 was taken, and no port is published: users reach the Trainer "
        "through the TLS route",
    ),
    Row("port-solr", "port", "match", ("services.solr.port",)),
    Row(
        "postgresql",
        "service",
        "not-applicable",
        (),
        "the Trainer at v2.11.2 only knows SQLite (core/settings.py hard-codes it; no PostgreSQL driver in the "
        "image), so no PostgreSQL is deployed",
    ),
    Row(
        "proxy",
        "security",
        "improved",
        ("routes.api", "routes.trainer"),
        "the platform's TLS proxy: 443 with HTTP redirected, basic auth in front of the API",
    ),
    Row(
        "hardware",
        "size",
        "improved",
        (f"{_MS}.resources",),
        "2 / 8 / 16 CPUs by sizing (small / medium / large), the guide's 8-16 cores as medium and large",
    ),
    Row("gpu", "size", "match", (f"{_MS}.gpu",), "with overrides.cogstack-nlp.services.medcat-service.gpu"),
    Row("model-storage", "volume", "improved", (f"{_MS}.volumes.models",), "a 50 GB volume, model pack from issue 13"),
    Row(
        "firewall",
        "security",
        "improved",
        ("routes.api", "routes.trainer"),
        "no service port is opened at all: only the proxy's 443 (80 redirects)",
    ),
    Row("model-pack", "variable", "match", (f"{_MS}.env.APP_MEDCAT_MODEL_PACK",), "settings.modelPack"),
    Row(
        "app-identity",
        "variable",
        "match",
        (f"{_MS}.env.APP_NAME", f"{_MS}.env.APP_MODEL_NAME", f"{_MS}.env.APP_MODEL_LANGUAGE"),
    ),
    Row(
        "bulk-threads",
        "variable",
        "improved",
        (f"{_MS}.env.APP_BULK_NPROC", f"{_MS}.env.APP_TORCH_THREADS"),
        "one per CPU of the sizing instead of a fixed 8 (0 torch threads on a GPU: medcat_processor.py@v0.6.1)",
    ),
    Row(
        "server",
        "variable",
        "improved",
        (f"{_MS}.env.SERVER_WORKERS", f"{_MS}.env.SERVER_WORKER_TIMEOUT"),
        "the guide says 4 workers in app.prod.env and a default of 1 in its reference table; each worker loads the "
        "model, so 1-4 by CPUs (2 on a GPU) within memory",
    ),
    Row(
        "max-requests",
        "variable",
        "not-applicable",
        (),
        "SERVER_GUNICORN_MAX_REQUESTS(_JITTER) is read by no release (start-service-prod.sh@v0.6.1): not passed",
    ),
    Row("cuda-devices", "variable", "match", (f"{_MS}.env.APP_CUDA_DEVICE_COUNT",), "-1 on CPU, the GPU count on GPU"),
    Row("log-level", "variable", "match", (f"{_MS}.env.APP_LOG_LEVEL",)),
    Row(
        "medcat-log-level",
        "variable",
        "not-applicable",
        (),
        "MEDCAT_LOG_LEVEL is read by no release of the service at v0.6.1: not passed",
    ),
    Row(
        "output-mode",
        "variable",
        "deviates",
        (f"{_MS}.env.ANNOTATIONS_ENTITY_OUTPUT_MODE",),
        "the guide's MEDCAT_ prefix is read by nothing; medcat_processor.py@v0.6.1 reads the unprefixed name",
    ),
    Row(
        "deid",
        "variable",
        "deviates",
        (f"{_MS}.env.DEID_MODE", f"{_MS}.env.DEID_REDACT"),
        "unprefixed, as medcat_processor.py@v0.6.1 reads them (the guide's MEDCAT_DEID_* are read by nothing)",
    ),
    Row(
        "shm",
        "size",
        "improved",
        (f"{_MS}.resources",),
        "the guide says 8g in general.prod.env and a 1g default in its table; 2 / 8 / 16 GiB by sizing, with "
        "the memory it goes with",
    ),
    Row(
        "image",
        "security",
        "improved",
        (f"{_MS}",),
        "pinned to 0.6.1, never latest (the policy pack rejects mutable tags)",
    ),
    Row(
        "models-mount",
        "volume",
        "deviates",
        (f"{_MS}.volumes.models",),
        "the guide mounts :ro, but MedCAT unpacks the pack beside the zip on first start (upstream's compose "
        "mounts it read-write), so the volume is writable",
    ),
    Row(
        "service-logs",
        "volume",
        "deviates",
        (f"{_MS}",),
        "the service logs to stdout, collected by the runtime; no /cat/logs volume (nothing in v0.6.1 writes there)",
    ),
    Row(
        "healthcheck",
        "monitoring",
        "improved",
        (f"{_MS}.health",),
        "the same /api/info probe with the image's own Python (the image has no curl)",
    ),
    Row(
        "trainer-port",
        "port",
        "deviates",
        (f"{_TR}.port",),
        "MCTRAINER_PORT is the host port of upstream's compose, not read by the image: 8000 inside, not published",
    ),
    Row(
        "trainer-db",
        "volume",
        "deviates",
        (f"{_TR}.volumes.trainer-sqlite",),
        "core/settings.py@v2.11.2 hard-codes db/db.sqlite3 and reads no DATABASE_URL: its own volume at /home/api/db",
    ),
    Row(
        "trainer-secret",
        "variable",
        "improved",
        (f"{_TR}.env.SECRET_KEY", f"{_TR}.files./home/api/core/platform_settings.py", "secrets.trainer-secret-key"),
        "generated, and actually used: upstream reads SECRET_KEY only to check it is set, so a settings module "
        "layered on upstream's sets it",
    ),
    Row(
        "trainer-hosts",
        "security",
        "improved",
        (f"{_TR}.files./home/api/core/platform_settings.py", f"{_TR}.env.BEHIND_RP"),
        "the Trainer is reached only through its route's host name behind the proxy",
    ),
    Row(
        "trainer-cookies",
        "security",
        "match",
        (f"{_TR}.files./home/api/core/platform_settings.py",),
        "Secure, HttpOnly, SameSite=Strict set in the layered settings (upstream reads no SESSION_COOKIE_* variable)",
    ),
    Row(
        "trainer-registration",
        "security",
        "not-applicable",
        (),
        "the Trainer at v2.11.2 has no public registration and reads no ENABLE_REGISTRATION: not passed",
    ),
    Row(
        "trainer-workers",
        "variable",
        "not-applicable",
        (),
        "WORKER_COUNT is read by nothing at v2.11.2; run.sh starts its background tasks itself",
    ),
    Row(
        "trainer-services",
        "service",
        "match",
        (_TR, "services.trainer-nginx", "services.solr", "services.solr.command"),
        "Solr in SolrCloud mode (-cloud) as upstream's compose; nginx serves static files",
    ),
    Row(
        "admin-user",
        "job",
        "improved",
        ("services.trainer-admin", "secrets.trainer-admin-password"),
        "a one-shot job with a generated password before the Trainer starts (run.sh would create admin/admin)",
    ),
    Row("proxy-timeouts", "config", "match", ("routes.api.timeout_s", "routes.trainer.timeout_s")),
    Row("proxy-body", "config", "match", ("routes.api.max_body_mb",), "the Trainer route takes 100 MB uploads"),
    Row("tls", "security", "match", ("routes.api", "routes.trainer"), "tls.mode provided, self-signed or ACME"),
    Row("log-rotation", "monitoring", "not-applicable", (), "the runtime rotates container logs (json-file limits)"),
    Row("systemd", "service", "not-applicable", (), "the runtime restarts services; no systemd units on the host"),
    Row("network-allowlist", "security", "missing", (), "allowedSourceCidrs on the proxy and load balancer: issue 13"),
    Row("api-auth", "security", "match", ("routes.api.auth",), "basic auth at the proxy, as the guide says"),
    Row(
        "encryption-at-rest",
        "security",
        "match",
        (f"{_MS}.volumes.models", f"{_TR}.volumes.trainer-sqlite"),
        "hostDiskEncryption attested on a Docker host; KMS-encrypted disks on clouds",
    ),
    Row(
        "non-root",
        "security",
        "deviates",
        (f"{_MS}.user", f"{_TR}.user"),
        "the MedCAT service runs as the platform's 10001:10001 (non-root, like the guide's 1000:1000); the Trainer "
        "image has no USER and run.sh writes root-owned /home/api, so it runs as root with a signed waiver",
    ),
    Row(
        "audit-log",
        "security",
        "not-applicable",
        (),
        "'if extending' the application: the images at their tags write no audit log file",
    ),
    Row(
        "prometheus", "monitoring", "missing", (), "MedCAT at v0.6.1 exposes no /metrics; CogStack monitoring: issue 13"
    ),
    Row("elk", "monitoring", "not-applicable", (), "optional in the guide ('or similar'); logs stay with the runtime"),
    Row("backups", "backup", "missing", (), "Trainer database and model backups: issue 13"),
)

SOURCES = (
    Source(f"{_MS}.env.SERVER_WORKER_TIMEOUT", "the guide's SERVER_WORKER_TIMEOUT=300"),
    Source(f"{_TR}.env.ENV", "upstream MedCATtrainer@v2.11.2 core/settings.py and envs/env-prod: ENV=prod"),
    Source(f"{_TR}.env.DJANGO_SETTINGS_MODULE", "upstream MedCATtrainer@v2.11.2 manage.py / core/wsgi.py setdefault"),
    Source(f"{_TR}.env.DEBUG", "upstream MedCATtrainer@v2.11.2 core/settings.py: only an empty DEBUG is false"),
    Source(f"{_TR}.env.CONCEPT_SEARCH_SERVICE_*", "upstream MedCATtrainer@v2.11.2 core/settings.py: Solr host/port"),
    Source(f"{_TR}.env.OPENBLAS_NUM_THREADS", "upstream MedCATtrainer@v2.11.2 envs/env-prod"),
    Source(f"{_TR}.volumes.trainer-media", "upstream MedCATtrainer@v2.11.2 docker-compose.yml: api-media"),
    Source("services.*.volumes.trainer-static", "upstream MedCATtrainer@v2.11.2 docker-compose.yml: api-static"),
    Source("services.trainer-admin.volumes.trainer-sqlite", "the Trainer's SQLite volume, migrated by the job"),
    Source("services.trainer-admin.env.DJANGO_SUPERUSER_*", "platform choice: read by the job's own script"),
    Source(
        "services.trainer-admin.user", "upstream MedCATtrainer@v2.11.2 webapp/Dockerfile: no USER (root owns the db)"
    ),
    Source(
        "services.trainer-nginx.port", "upstream MedCATtrainer@v2.11.2 nginx/sites-enabled/medcattrainer: listen 8000"
    ),
    Source("services.trainer-nginx.user", "upstream nginxinc/nginx-unprivileged Dockerfile: uid 101"),
    Source(f"{_TR}.resources", "platform choice: 1 / 2 / 4 CPUs by sizing (the guide sizes only the server)"),
    Source("services.solr.resources", "platform choice: 1 / 2 / 4 CPUs by sizing, room for the 1g heap"),
    Source("services.trainer-nginx.resources", "platform choice: a static-file nginx"),
    Source("services.trainer-admin.resources", "platform choice: a one-shot Django command"),
    Source(
        "services.trainer-admin.command",
        "platform choice: Django's migrate and create_superuser (Django 2.2 in the image has no "
        "DJANGO_SUPERUSER_PASSWORD support), so run.sh never creates admin/admin",
    ),
    Source("services.solr.env.SOLR_HEAP", "upstream solr 8.11 bin/solr: SOLR_HEAP; 1g is a platform choice"),
    Source("services.solr.user", "upstream apache/solr-docker 8.11/Dockerfile: USER $SOLR_UID (8983)"),
    Source("services.solr.volumes.solr-data", "upstream apache/solr-docker 8.11/Dockerfile: /var/solr (SOLR_HOME)"),
)

TRACE = Trace(
    system="cogstack-nlp",
    guide="000_531852f589d214a8.txt",
    elements=ELEMENTS,
    rows=ROWS,
    sources=SOURCES,
    reference_settings={},
)
