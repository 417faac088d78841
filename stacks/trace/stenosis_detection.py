"""Stenosis detection against its Deployment Guide (seed 001)."""

from __future__ import annotations

from stacks.trace import Element, Row, Source, Trace
from stacks.trace.common import GRAFANA, PROMETHEUS, REDIS_EXPORTER

_APP = "services.[bw]*"  # backend and worker share the application's environment

ELEMENTS = (
    Element("backend", "Step 4: Start Backend Services", "uvicorn app.main:app --reload --host 0.0.0.0 --port 8000"),
    Element("worker", "Step 4: Start Backend Services", "celery -A app.services.tasks worker --loglevel=info"),
    Element("frontend", "Frontend Optimization", "# Use serve or nginx to serve static files"),
    Element("gzip", "Frontend Optimization", "gzip_comp_level 6;"),
    Element("debug-off", "Docker Compose Deployment", "DEBUG=False"),
    Element("secret-key", "Docker Compose Deployment", "SECRET_KEY=<generate-with-openssl-rand-hex-32>"),
    Element(
        "database-url", "Docker Compose Deployment", "DATABASE_URL=postgresql+asyncpg://user:pass@db:5432/stenosis"
    ),
    Element("cors", "Docker Compose Deployment", 'BACKEND_CORS_ORIGINS=["https://yourdomain.com"]'),
    Element("init-db", "Docker Compose Deployment", "asyncio.run(init_db())"),
    Element("proxy-timeouts", "Step 5: Configure Nginx Reverse Proxy", "proxy_read_timeout 300s;"),
    Element("upload-size", "Step 5: Configure Nginx Reverse Proxy", "client_max_body_size 500M;"),
    Element("tls", "Step 6: Set Up SSL with Let's Encrypt", "sudo certbot --nginx -d yourdomain.com"),
    Element("redis", "Cloud Deployment", "ElastiCache Redis for Celery"),
    Element("s3", "Cloud Deployment", "S3 for data storage"),
    Element("gpu-instance", "Cloud Deployment", "Instance Type: p3.2xlarge (GPU) or t3.2xlarge (CPU)"),
    Element("disk", "Cloud Deployment", "Storage: 100GB SSD minimum"),
    Element("batch-size", "Performance Optimization", "BATCH_SIZE=4  # in .env"),
    Element("gpu-inference", "Performance Optimization", "ENABLE_MIXED_PRECISION=True"),
    Element("worker-concurrency", "Performance Optimization", "# GPU-bound: Set workers = 1-2 per GPU"),
    Element("db-pool", "Database Optimization", "pool_size=20,"),
    Element("logs", "Logging", "'filename': '/app/logs/stenosis.log',"),
    Element("healthcheck", "Health Checks", "HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3"),
    Element("backups", "Backup Strategy", "0 2 * * * /path/to/backup_script.sh"),
    Element("prometheus", "Monitoring Tools", "image: prom/prometheus"),
    Element("grafana", "Monitoring Tools", "GF_SECURITY_ADMIN_PASSWORD=admin"),
    Element("app-metrics", "Monitoring Tools", "Instrumentator().instrument(app).expose(app)"),
    Element("rate-limiting", "Security Checklist", "Rate limiting configured"),
    Element("authentication", "Security Checklist", "Authentication implemented"),
    Element("alerting", "Security Checklist", "Monitoring and alerting configured"),
    Element("gpu-oom", "Common Issues", "**1. Out of GPU Memory**"),
    Element("cdn", "Frontend Optimization", "Use CloudFront (AWS) or Cloud CDN (GCP)"),
)

ROWS = (
    Row(
        "backend",
        "service",
        "improved",
        ("services.backend.command", "services.backend.port"),
        "no --reload; settings.apiWorkers processes; client addresses from the proxy's headers",
    ),
    Row(
        "worker",
        "service",
        "match",
        ("services.worker.command", "services.worker.resources", "services.worker.gpu"),
        "--prefetch-multiplier=1 so a long inference does not hold queued tasks",
    ),
    Row(
        "frontend",
        "service",
        "improved",
        ("services.frontend.port", "services.frontend.files./etc/nginx/conf.d/default.conf", "services.frontend.user"),
        "the team's image serves the static build with unprivileged nginx on 8080 (the guide's dev server is 3000)",
    ),
    Row("gzip", "config", "match", ("services.frontend.files./etc/nginx/conf.d/default.conf",)),
    Row("debug-off", "variable", "match", ("services.*.env.DEBUG",)),
    Row(
        "secret-key",
        "variable",
        "improved",
        ("services.*.env.SECRET_KEY", "secrets.secret-key"),
        "generated, 64 characters (the guide's openssl rand -hex 32)",
    ),
    Row(
        "database-url",
        "variable",
        "match",
        ("services.*.env.DATABASE_URL", "postgres.db"),
        "postgresql+asyncpg to the system's own PostgreSQL",
    ),
    Row("cors", "variable", "match", ("services.backend.env.BACKEND_CORS_ORIGINS",), "the web route's own origin"),
    Row(
        "init-db",
        "job",
        "improved",
        ("services.db-init",),
        "a one-shot job before the backend and worker, not a manual exec",
    ),
    Row("proxy-timeouts", "config", "match", ("routes.web.timeout_s", "routes.api.timeout_s")),
    Row("upload-size", "config", "match", ("routes.web.max_body_mb", "routes.api.max_body_mb")),
    Row(
        "tls",
        "security",
        "improved",
        ("routes.web", "routes.api"),
        "the platform's TLS proxy or load balancer terminates every route (self-signed, provided or ACME)",
    ),
    Row("redis", "service", "match", ("redis.broker", f"{_APP}.env.REDIS_URL", f"{_APP}.env.CELERY_*")),
    Row(
        "s3",
        "volume",
        "deviates",
        ("buckets.uploads", "buckets.results", f"{_APP}.env.S3_*", f"{_APP}.env.AWS_*"),
        "the guide says only 'Configure S3 for data storage'; the variable names are the platform's contract "
        "with the team's image (AWS_* are the AWS SDK's own). STORAGE_BACKEND, which no source names, is removed",
    ),
    Row(
        "gpu-instance",
        "size",
        "improved",
        ("services.worker.gpu",),
        "a 16 GB GPU request (the guide's V100 or T4); clouds pick the cheapest machine that fits",
    ),
    Row("disk", "size", "match", ("services.backend.volumes.data",), "100 GB data volume"),
    Row("batch-size", "variable", "match", ("services.worker.env.BATCH_SIZE",)),
    Row(
        "gpu-inference",
        "variable",
        "improved",
        ("services.worker.env.DEVICE", "services.worker.env.ENABLE_MIXED_PRECISION"),
        "cuda with mixed precision on a GPU, cpu without one (the guide's troubleshooting DEVICE=cpu)",
    ),
    Row(
        "worker-concurrency",
        "size",
        "deviates",
        ("services.worker.command",),
        "the guide contradicts itself: --concurrency=2 --pool=solo runs one task at a time; the prefork pool with "
        "2 processes per GPU was taken (the guide's '1-2 per GPU'), one per core on CPU; workerPool: solo remains",
    ),
    Row(
        "db-pool",
        "size",
        "improved",
        ("postgres.db.max_connections",),
        "max_connections sized so every process's pool (20 + 10) fits",
    ),
    Row("logs", "volume", "match", (f"{_APP}.volumes.logs",), "/app/logs on a persistent volume"),
    Row(
        "healthcheck",
        "monitoring",
        "match",
        ("services.backend.health",),
        "the guide's Dockerfile HEALTHCHECK: /health every 30 s, 10 s timeout, 5 s start, 3 retries",
    ),
    Row(
        "backups",
        "backup",
        "deviates",
        ("services.backup*",),
        "the database and Redis daily, encrypted, kept resilience.backupDays off the host; the MinIO buckets are "
        "not archived yet (versioned, keeping prior versions 90 days)",
    ),
    Row(
        "prometheus",
        "monitoring",
        "improved",
        ("services.prometheus", "services.prometheus.files./etc/prometheus/prometheus.yml"),
        "pinned image, scraping every backend replica; reachable only inside the system (no published 9090)",
    ),
    Row(
        "grafana",
        "monitoring",
        "improved",
        ("services.grafana", "secrets.grafana-admin-password", "routes.grafana"),
        "generated admin password and a named admin instead of admin/admin; behind the TLS route",
    ),
    Row("app-metrics", "monitoring", "match", ("services.backend.metrics_path",), "scraped at /metrics"),
    Row(
        "rate-limiting",
        "security",
        "improved",
        ("routes.*.rate_limit_per_minute", "routes.*.burst"),
        "per client address and route at the proxy or gateway (429), and as WAF / Cloud Armor rate rules on clouds",
    ),
    Row(
        "authentication",
        "security",
        "improved",
        ("routes.web.auth", "routes.api.auth"),
        "the proxy demands credentials until settings.appAuthentication says the application logs users in",
    ),
    Row(
        "alerting",
        "alert",
        "improved",
        ("services.prometheus", "services.alertmanager", "services.redis-exporter"),
        "error-rate, latency and queue-depth rules plus the platform's, delivered by the system's Alertmanager",
    ),
    Row(
        "gpu-oom",
        "alert",
        "improved",
        ("services.gpu-exporter",),
        "GpuMemoryNearlyFull warns when a GPU stays above 90% of its memory for 10 minutes, before a task fails out "
        "of memory (GPU exporter on a Docker host or VM; a cluster's GPU nodes are watched by the cluster's DCGM)",
    ),
    Row("cdn", "service", "not-applicable", (), "clinical data stays behind the hospital's proxy; no CDN"),
)

SOURCES = (
    *PROMETHEUS,
    *GRAFANA,
    *REDIS_EXPORTER,
    Source("services.[bdw]*.user", "platform choice: the non-root default 10001:10001 (the guide names no user)"),
    Source("services.frontend.user", "upstream nginxinc/nginx-unprivileged Dockerfile: uid 101"),
    Source("services.backend.resources", "platform choice: 1 / 2 / 4 CPUs by sizing (the guide sizes only the VM)"),
    Source("services.frontend.resources", "platform choice: a static-file nginx"),
    Source("services.db-init.resources", "platform choice: a one-shot init_db"),
    Source(
        "services.db-init.command",
        "the guide's Initialize Database: python -c 'from app.core.database import init_db; ...'",
    ),
    Source("services.*.env.LOG_LEVEL", "platform choice: the guide's logging config hard-codes INFO; a setting"),
    Source("services.*.env.TMPDIR", "platform choice: 500 MB uploads spool on the data volume, not in /tmp"),
    Source("services.*.volumes.data", "the guide's data directory (/app/data: its SQLite file and backups)"),
)

TRACE = Trace(
    system="stenosis-detection",
    guide="001_ff41bc6c90887e0f.txt",
    elements=ELEMENTS,
    rows=ROWS,
    sources=SOURCES,
    reference_settings={},
)
