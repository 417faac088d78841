"""Neurocore against its Production Operations Guide (seed 002).

The guide names the ports, the monitoring stack and a few ``.env`` keys; it reproduces no compose file, so
users, most sizes and most variable names are the platform's (each says so in SOURCES or in its row).
"""

from __future__ import annotations

from stacks.trace import Element, Row, Source, Trace
from stacks.trace.common import GRAFANA, PROMETHEUS

_APP = "services.[acm]*"  # api, celery-worker and migrate share the application's environment

ELEMENTS = (
    Element("api", "Architecture", "│  API (FastAPI)   │"),
    Element("api-port", "Port Allocation", "- API: 8002"),
    Element("frontend", "Port Allocation", "- Frontend: 3002"),
    Element("postgres", "Technology Stack", "**Database**: PostgreSQL 15 + pgvector"),
    Element("postgres-port", "Port Allocation", "- PostgreSQL: 5434"),
    Element("redis", "Technology Stack", "**Cache**: Redis 7"),
    Element("redis-port", "Port Allocation", "- Redis: 6381"),
    Element("celery", "Technology Stack", "**Task Queue**: Celery + Redis"),
    Element("flower", "Port Allocation", "- Flower: 5555"),
    Element("prometheus", "Port Allocation", "- Prometheus: 9091"),
    Element("grafana", "Port Allocation", "- Grafana: 3003"),
    Element("loki", "Port Allocation", "- Loki: 3101"),
    Element("cadvisor", "Port Allocation", "- cAdvisor: 8081"),
    Element("node-exporter", "Port Allocation", "- Node Exporter: 9101"),
    Element("alertmanager", "Port Allocation", "- AlertManager: 9093"),
    Element("server-size", "Server Requirements", "- RAM: 16+ GB"),
    Element("openai", "External Services", "**OpenAI API Key**: For AI features"),
    Element("smtp", "External Services", "**SMTP Server**: For email notifications (optional)"),
    Element("slack", "External Services", "**Slack Webhook**: For alerts (optional)"),
    Element("tls", "External Services", "**Domain/SSL**: For production deployment"),
    Element("env-db-password", "3. Configure Environment", "# - DB_PASSWORD"),
    Element("env-secret-key", "3. Configure Environment", "# - SECRET_KEY"),
    Element("env-grafana-password", "3. Configure Environment", "# - GRAFANA_ADMIN_PASSWORD"),
    Element("data-dirs", "4. Create Data Directories", "mkdir -p data/pdfs"),
    Element("migrations", "5. Initialize Database", "docker compose run --rm api alembic upgrade head"),
    Element("grafana-admin", "Access Monitoring Dashboards", "- Username: admin"),
    Element("key-metrics", "Key Metrics to Monitor", "- Response time (p50, p95, p99)"),
    Element("alert-rule", "Setting Up Alerts", 'expr: rate(http_requests_total{status=~"5.."}[5m]) > 0.05'),
    Element("logql", "Log Analysis", '{container="neurocore_api"} |= "ERROR"'),
    Element("backups", "Automated Backups", "# Daily database backup at 2 AM"),
    Element("api-limits", "Vertical Scaling", "cpus: '4.0'      # Increase from 2.0"),
    Element("scale-api", "Horizontal Scaling", "docker compose up -d --scale api=3"),
    Element("scale-workers", "Horizontal Scaling", "docker compose up -d --scale celery-worker=5"),
    Element("pgbouncer", "Database Scaling", "**Connection Pooling**: Use PgBouncer"),
    Element("load-balancing", "Load Balancing", "least_conn;"),
    Element("firewall", "Firewall Configuration", "sudo ufw allow 443/tcp"),
    Element("rate-limiting", "Security Best Practices", "**Rate limiting**: Prevent abuse with rate limits"),
    Element("https-only", "Security Best Practices", "**HTTPS only**: Redirect all HTTP to HTTPS"),
    Element("backup-encryption", "Security Best Practices", "**Backup encryption**: Encrypt sensitive backups"),
    Element("non-root", "Key Features", "non-root containers"),
    Element("db-identity", "Database Connection Errors", "psql -U neurosurgery_admin -d neurosurgery_kb"),
)

_NOT_PUBLISHED = "the image's own port inside the system network; the guide's is a host port, and nothing is published"

ROWS = (
    Row("api", "service", "improved", ("services.api", "services.api.command"), "no --reload; settings.apiWorkers"),
    Row("api-port", "port", "match", ("services.api.port",), "settings.apiPort"),
    Row("frontend", "service", "match", ("services.frontend.port", "routes.app"), "the team's nginx image on 3002"),
    Row(
        "postgres",
        "service",
        "match",
        ("postgres.postgres.version", "postgres.postgres.extensions"),
        "pgvector by the image's init script on a Docker host or cluster, by the one-shot postgres-setup job "
        "on RDS / Cloud SQL (components/database_setup.py)",
    ),
    Row("postgres-port", "port", "deviates", ("postgres.postgres",), "5432 inside; " + _NOT_PUBLISHED),
    Row(
        "redis",
        "service",
        "match",
        ("redis.redis", f"{_APP}.env.REDIS_*"),
        "one Redis for cache and queue, noeviction (LRU would drop queued tasks)",
    ),
    Row("redis-port", "port", "deviates", ("redis.redis",), "6379 inside; " + _NOT_PUBLISHED),
    Row(
        "celery",
        "service",
        "match",
        ("services.celery-worker", "services.celery-worker.command", f"{_APP}.env.CELERY_*"),
        "--task-events so Flower sees tasks",
    ),
    Row("flower", "service", "improved", ("services.flower.port", "routes.flower"), "behind the proxy's basic auth"),
    Row("prometheus", "monitoring", "deviates", ("services.prometheus.port",), "9090; " + _NOT_PUBLISHED),
    Row("grafana", "monitoring", "deviates", ("services.grafana.port", "routes.grafana"), "3000; " + _NOT_PUBLISHED),
    Row("loki", "monitoring", "deviates", ("services.loki.port",), "3100; " + _NOT_PUBLISHED),
    Row(
        "cadvisor",
        "monitoring",
        "improved",
        ("services.cadvisor.port", "services.cadvisor.host_mounts./sys/fs/cgroup"),
        "8080 unpublished; not privileged, only /sys/fs/cgroup read-only (the Docker socket only with a waiver)",
    ),
    Row(
        "node-exporter",
        "monitoring",
        "deviates",
        ("services.node-exporter.port", "services.node-exporter.host_mounts./proc"),
        "9100; " + _NOT_PUBLISHED,
    ),
    Row("alertmanager", "monitoring", "match", ("services.alertmanager.port",), "9093, not published"),
    Row(
        "server-size",
        "size",
        "improved",
        ("services.api.resources", "services.celery-worker.resources"),
        "sized per service by the stack's sizing instead of one server",
    ),
    Row("openai", "security", "match", (f"{_APP}.env.OPENAI_API_KEY", "secrets.openai-api-key")),
    Row(
        "smtp",
        "variable",
        "match",
        (f"{_APP}.env.SMTP_*", "secrets.smtp-password"),
        "only with settings.smtpHost (SMTP_* names: platform choice, the guide names only SMTP_PASSWORD)",
    ),
    Row(
        "slack",
        "alert",
        "match",
        (
            "services.alertmanager.files./etc/alertmanager/alertmanager.yml",
            "services.alertmanager.files./etc/alertmanager/credentials/slack",
            "secrets.alert-slack-webhook-url",
        ),
        "the stack's alerting.slackChannel and the alertSlackWebhookUrl secret, read by Alertmanager as a file",
    ),
    Row("tls", "security", "improved", ("routes.app", "routes.api"), "the platform's TLS proxy or load balancer"),
    Row(
        "env-db-password",
        "variable",
        "improved",
        (f"{_APP}.env.DB_PASSWORD", f"{_APP}.env.DATABASE_URL"),
        "generated; DB_HOST/PORT/NAME/USER and DATABASE_URL beside it are the platform's names (see below)",
    ),
    Row(
        "env-secret-key",
        "variable",
        "improved",
        (f"{_APP}.env.SECRET_KEY", "secrets.secret-key"),
        "generated, 64 characters",
    ),
    Row(
        "env-grafana-password",
        "variable",
        "improved",
        ("services.grafana.env.GF_SECURITY_ADMIN_PASSWORD", "secrets.grafana-admin-password"),
        "generated",
    ),
    Row(
        "data-dirs",
        "volume",
        "match",
        ("services.api.volumes.pdfs", "services.api.volumes.images", "services.api.volumes.logs"),
        "persistent volumes; PDF_STORAGE_PATH / IMAGE_STORAGE_PATH name them (platform names)",
    ),
    Row(
        "migrations",
        "job",
        "improved",
        ("services.migrate", "services.migrate.command"),
        "a one-shot job that starts once PostgreSQL is healthy; the API and workers start only after it exited 0, "
        "and a failure fails the deployment with its last log lines",
    ),
    Row(
        "grafana-admin",
        "security",
        "improved",
        ("services.grafana.env.GF_SECURITY_ADMIN_USER",),
        "a named admin (settings.grafanaAdminUser) instead of admin",
    ),
    Row(
        "key-metrics",
        "monitoring",
        "match",
        ("services.prometheus.files./etc/prometheus/prometheus.yml", "services.postgres-exporter"),
        "application, host, container and database metrics scraped",
    ),
    Row(
        "alert-rule",
        "alert",
        "match",
        ("services.prometheus.files./etc/prometheus/rules/application.yml",),
        "verbatim, with more rules on the metrics the guide says to watch",
    ),
    Row(
        "logql",
        "monitoring",
        "deviates",
        ("services.log-collector.env.COLLECTOR_CONFIG",),
        "every container's lines reach Loki through Docker's fluentd driver and a non-root collector (Docker "
        "runtimes; a cluster's logs are its own agents'); labels system, service, container, stream: the guide's "
        '{container="neurocore_api"} reads {system="neurocore", service="api"}',
    ),
    Row(
        "backups",
        "backup",
        "improved",
        ("services.backup*",),
        "daily, not weekly or monthly: both databases dumped and every writable volume archived each day, "
        "encrypted, kept resilience.backupDays off the host",
    ),
    Row(
        "api-limits",
        "size",
        "match",
        ("services.api.resources",),
        "2 CPUs / 2 GiB (small) and the guide's raised 4 / 4 GiB (medium); 8 / 8 GiB (large) is the platform's",
    ),
    Row("scale-api", "size", "improved", ("services.api.replicas",), "2 replicas where the stack runs redundantly"),
    Row(
        "scale-workers",
        "size",
        "improved",
        ("services.celery-worker.replicas", "postgres.postgres.max_connections"),
        "replicas by resilience; 300 connections leave room for --scale api=3 and celery-worker=5",
    ),
    Row("pgbouncer", "service", "not-applicable", (), "an option for read-heavy loads in the guide, not a step"),
    Row("load-balancing", "service", "improved", ("routes.api",), "the platform's proxy balances the API replicas"),
    Row("firewall", "security", "improved", ("routes.app",), "only the proxy's 443 (80 redirects) is reachable"),
    Row(
        "rate-limiting",
        "security",
        "improved",
        ("routes.*.rate_limit_per_minute", "routes.*.burst"),
        "per client address and route at the proxy or gateway (429), and as WAF / Cloud Armor rate rules on clouds",
    ),
    Row("https-only", "security", "match", ("routes.app", "routes.api"), "HTTP only redirects to HTTPS"),
    Row(
        "backup-encryption",
        "backup",
        "match",
        ("services.backup.env.BACKUP_KEY",),
        "AES-256 (openssl enc, PBKDF2) with the system's generated backup key",
    ),
    Row(
        "non-root",
        "security",
        "improved",
        ("services.api.user", "services.frontend.user", "services.flower.user"),
        "every service non-root; the guide names no users",
    ),
    Row("db-identity", "variable", "match", ("postgres.postgres.database", "postgres.postgres.user")),
)

_CONTRACT = (
    "platform choice: the guide names only DB_PASSWORD, SECRET_KEY and OPENAI_API_KEY of its .env.example; "
    "this name is the platform's contract with the team's image"
)

SOURCES = (
    *PROMETHEUS,
    *GRAFANA,
    Source(f"{_APP}.user", "platform choice: non-root (the guide's 'non-root containers'); uid 1000, useradd's first"),
    Source(f"{_APP}.env.DB_*", _CONTRACT),
    Source(f"{_APP}.env.JWT_SECRET", _CONTRACT + " (the same key as SECRET_KEY)"),
    Source(f"{_APP}.env.PGSSLMODE", "libpq's own variable: TLS to the database wherever the platform offers it"),
    Source(f"{_APP}.env.*_STORAGE_PATH", _CONTRACT + " (the guide's data/pdfs and data/images)"),
    Source(f"{_APP}.env.*_URL", _CONTRACT),
    Source(f"{_APP}.env.ENVIRONMENT", _CONTRACT + " (the stack's environment)"),
    Source(f"{_APP}.env.DEBUG", _CONTRACT + " (never on)"),
    Source(f"{_APP}.env.LOG_LEVEL", _CONTRACT + " (settings.logLevel, never DEBUG)"),
    Source("services.api.volumes.*", "the guide's data/pdfs, data/images and logs directories"),
    Source("services.celery-worker.volumes.*", "the guide's data/pdfs, data/images and logs directories"),
    Source("services.migrate.resources", "platform choice: a one-shot alembic upgrade"),
    Source("services.flower.resources", "platform choice: no size in the guide"),
    Source("services.frontend.resources", "platform choice: a static-file nginx"),
    Source(
        "services.alertmanager.command",
        "upstream prometheus/alertmanager@v0.27.0 Dockerfile CMD: --config.file, --storage.path; one instance, so "
        "no cluster port (platform choice)",
    ),
    Source("services.alertmanager.resources", "platform choice: no size in the guide"),
    Source("services.loki.command", "upstream grafana/loki@v3.3.2 Dockerfile CMD: -config.file (the platform's file)"),
    Source("services.loki.resources", "platform choice: no size in the guide"),
    Source(
        "services.cadvisor.command",
        "upstream google/cadvisor@v0.49.1 flags (--port, --housekeeping_interval, --docker_only, "
        "--disable_metrics): platform choices for the fewest host mounts and metrics",
    ),
    Source("services.cadvisor.resources", "platform choice: no size in the guide"),
    Source(
        "services.node-exporter.command",
        "upstream prometheus/node_exporter@v1.8.2 flags (--path.*, --collector.*): the host's /proc, /sys and the "
        "watched disk, read-only (platform choice)",
    ),
    Source("services.node-exporter.resources", "platform choice: no size in the guide"),
    Source("services.flower.user", "upstream mher/flower Dockerfile: adduser -u 1000 flower; USER flower"),
    Source("services.flower.env.*", "upstream mher/flower: FLOWER_* options and Celery's CELERY_BROKER_URL"),
    Source("services.frontend.user", "upstream nginx images (docker-library): the nginx user is uid 101"),
    Source("services.alertmanager.user", "upstream prometheus/alertmanager@v0.27.0 Dockerfile: USER nobody"),
    Source(
        "services.alertmanager.volumes.alertmanager-data", "upstream prometheus/alertmanager@v0.27.0: /alertmanager"
    ),
    Source("services.grafana.user", "upstream grafana/grafana@v11.4.0 Dockerfile: uid 472, group root (gid 0)"),
    Source("services.loki.user", "upstream grafana/loki@v3.3.2 cmd/loki/Dockerfile: USER 10001"),
    Source("services.loki.volumes.loki-data", "upstream grafana/loki@v3.3.2: /loki (the local-config's storage)"),
    Source("services.cadvisor.user", "platform choice: nobody; cAdvisor reads cgroups through the read-only mount"),
    Source("services.node-exporter.user", "upstream prometheus/node_exporter@v1.8.2 Dockerfile: USER nobody"),
    Source(
        "services.postgres-exporter.*",
        "upstream prometheus-community/postgres_exporter@v0.15.0: USER nobody, port 9187, DATA_SOURCE_NAME; platform "
        "choice: the DSN logs in as the monitoring role (pg_monitor only; components/database_roles.py)",
    ),
    Source(
        "services.log-collector.*",
        "upstream vectordotdev/vector@v0.43.1: distribution/docker/alpine/Dockerfile (alpine:3.20, so sh and "
        "busybox wget; ENTRYPOINT /usr/local/bin/vector; no USER, so root: the platform runs it as nobody), "
        "src/sources/fluent (Fluentd's forward protocol, 24224 in its generated config), src/config/api.rs and "
        "src/api/server.rs (API on 127.0.0.1:8686, GET /health), src/sinks/loki (endpoint, labels, text codec); "
        "COLLECTOR_CONFIG is the platform's own variable, read by the command's sh, not by Vector; resources: "
        "platform choice",
    ),
)

TRACE = Trace(
    system="neurocore",
    guide="002_d261b5c410deeedd.txt",
    elements=ELEMENTS,
    rows=ROWS,
    sources=SOURCES,
    reference_settings={"smtpHost": "smtp.hospital.example", "smtpUser": "neurocore"},
)
