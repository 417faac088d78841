"""Therapy Compliance Analyzer against its Deployment & Operations Guide (seed 004)."""

from __future__ import annotations

from stacks.trace import Element, Row, Source, Trace

_API = "services.api"

ELEMENTS = (
    Element("api-server", "Multi-User Network Deployment", "gunicorn src.api.main:app"),
    Element("api-workers", "Multi-User Network Deployment", "--workers 4"),
    Element("api-port", "Multi-User Network Deployment", "--bind 0.0.0.0:8001"),
    Element("api-timeouts", "Multi-User Network Deployment", "--timeout 300"),
    Element("server-size", "Multi-User Network Deployment", "**Server**: 16-32GB RAM, 8+ cores, 50GB+ storage"),
    Element("client-db-url", "Multi-User Network Deployment", 'url: "postgresql://user:pass@server:5432/compliance"'),
    Element("database-url", "Environment Variables", 'DATABASE_URL="postgresql://user:password@localhost:5432/'),
    Element("secret-key", "Environment Variables", 'SECRET_KEY="super-secure-production-key-256-bits-long"'),
    Element("jwt", "Environment Variables", "ACCESS_TOKEN_EXPIRE_MINUTES=480"),
    Element("environment", "Environment Variables", 'ENVIRONMENT="production"'),
    Element("performance-env", "Environment Variables", "MAX_WORKERS=8"),
    Element("background-tasks", "Environment Variables", "BACKGROUND_TASKS_ENABLED=true"),
    Element("security-env", "Environment Variables", "PHI_SCRUBBING_STRICT=true"),
    Element("config-yaml", "Production config.yaml", "pool_size: 20"),
    Element("health-endpoints", "Health Check Endpoints", "GET /health                    # Basic health status"),
    Element("alert-thresholds", "Alerting Strategy", "'memory_usage': 0.85,      # 85% memory usage"),
    Element("audit-logging", "Audit Logging", 'self.logger = structlog.get_logger("audit")'),
    Element("db-backups", "Backup & Recovery", "**Database Backups**: Daily automated backups with retention policy"),
    Element("pitr", "Backup & Recovery", "**Database Recovery**: Point-in-time recovery from backups"),
    Element("load-balancer", "Horizontal Scaling", "server api-server-3:8001;"),
    Element("read-replicas", "Horizontal Scaling", "**Read Replicas**: Scale read operations"),
    Element("redis-cache", "Caching Strategy", "self.redis_client = redis.Redis(host='localhost', port=6379, db=0)"),
    Element("maintenance", "Automated Maintenance", "Temporary file purging"),
)

ROWS = (
    Row("api-server", "service", "match", (f"{_API}.command", f"{_API}.resources")),
    Row("api-workers", "size", "match", (f"{_API}.command",), "settings.workers, default 4"),
    Row("api-port", "port", "match", (f"{_API}.port",)),
    Row(
        "api-timeouts",
        "config",
        "improved",
        (f"{_API}.command",),
        "--timeout 300 --keep-alive 2 as the guide; also --forwarded-allow-ips (client addresses from the proxy) "
        "and access logs on stdout",
    ),
    Row(
        "server-size",
        "size",
        "improved",
        (f"{_API}.resources", "postgres.db.storage_gb"),
        "per replica by sizing: small 2 cores / 8 GiB, medium 8 / 16 GiB, large 16 / 32 GiB; 50 GB database",
    ),
    Row(
        "client-db-url",
        "security",
        "deviates",
        ("postgres.db",),
        "clients reach the API over HTTPS only; no direct database connection is offered (every access is audited)",
    ),
    Row(
        "database-url",
        "variable",
        "improved",
        (f"{_API}.env.DATABASE_URL", "postgres.db"),
        "the system's own PostgreSQL with TLS where the platform offers it, instead of localhost",
    ),
    Row(
        "secret-key",
        "variable",
        "improved",
        (f"{_API}.env.SECRET_KEY", "secrets.secret-key"),
        "generated, 64 characters, never the placeholder",
    ),
    Row("jwt", "variable", "match", (f"{_API}.env.ALGORITHM", f"{_API}.env.ACCESS_TOKEN_EXPIRE_MINUTES")),
    Row(
        "environment",
        "variable",
        "improved",
        (f"{_API}.env.ENVIRONMENT",),
        "production on every stack, so upstream src/config.py never falls back to a development SECRET_KEY",
    ),
    Row(
        "performance-env",
        "variable",
        "match",
        (f"{_API}.env.MAX_WORKERS", f"{_API}.env.CACHE_SIZE_GB", f"{_API}.env.MODEL_CACHE_SIZE"),
    ),
    Row("background-tasks", "variable", "match", (f"{_API}.env.BACKGROUND_TASKS_ENABLED",)),
    Row(
        "security-env",
        "security",
        "improved",
        (
            f"{_API}.env.RATE_LIMIT_ENABLED",
            f"{_API}.env.AUDIT_LOGGING_ENABLED",
            f"{_API}.env.PHI_SCRUBBING_STRICT",
        ),
        "always on: not settings (a HIPAA control is not a tuning knob)",
    ),
    Row(
        "config-yaml",
        "config",
        "match",
        (f"{_API}.files./app/config.yaml",),
        "delivered as the file upstream src/config.py reads (/app/config.yaml), with the guide's four sections. "
        "The guide writes url: ${DATABASE_URL}, but the app loads it with yaml.safe_load, which expands nothing, so "
        "the platform writes the URL itself. Formerly passed as DATABASE_POOL_*, SESSION_TIMEOUT_MINUTES and "
        "monitoring variables no source names: removed. On a Docker host the root filesystem is then writable "
        "(Docker copies files in before start)",
    ),
    Row(
        "health-endpoints",
        "monitoring",
        "match",
        (f"{_API}.health",),
        "the container health check probes GET /health with the image's Python",
    ),
    Row(
        "alert-thresholds",
        "alert",
        "not-applicable",
        (),
        "code of the team's image (src/core/alerting.py), not deployment configuration: the ALERT_* variables "
        "formerly passed were read by nothing and are removed; alert rules with these thresholds: issue 13",
    ),
    Row(
        "audit-logging",
        "security",
        "improved",
        (f"{_API}.volumes.audit-logs",),
        "audit logs written under /app/logs land on a persistent volume",
    ),
    Row("db-backups", "backup", "missing", (), "scheduled, encrypted backups on every platform: issue 13"),
    Row("pitr", "backup", "missing", (), "point-in-time recovery on a Docker host: issue 13 (clouds: RDS/Cloud SQL)"),
    Row(
        "load-balancer",
        "service",
        "match",
        (f"{_API}.replicas",),
        "three API replicas wherever the stack runs redundantly (prod); the AWS compose's replicas: issue 15",
    ),
    Row(
        "read-replicas",
        "service",
        "not-applicable",
        (),
        "the guide lists it as a scaling option, not a deployment step; one primary per system",
    ),
    Row(
        "redis-cache",
        "service",
        "improved",
        ("redis.cache", f"{_API}.env.REDIS_*"),
        "the guide's code hard-codes localhost:6379; the platform names the system's authenticated Redis "
        "(allkeys-lru, no persistence: nothing in it is a record)",
    ),
    Row(
        "maintenance",
        "job",
        "not-applicable",
        (),
        "run inside the API (BACKGROUND_TASKS_ENABLED, upstream's APScheduler), not as separate jobs",
    ),
)

SOURCES = (
    Source(f"{_API}.user", "platform choice: the non-root default 10001:10001 (the guide names no user)"),
    Source(f"{_API}.env.LOG_LEVEL", "upstream src/config.py: Settings (pydantic-settings) field log_level"),
    Source(f"{_API}.env.HF_*", "platform choice: no egress, models from the image or the model-cache volume"),
    Source(f"{_API}.env.TRANSFORMERS_OFFLINE", "platform choice: no egress (Hugging Face transformers' own switch)"),
    Source(f"{_API}.volumes.model-cache", "platform choice: HF_HOME under /app/.cache survives restarts"),
)

TRACE = Trace(
    system="therapy-compliance",
    guide="004_79e8039c7229bd12.txt",
    elements=ELEMENTS,
    rows=ROWS,
    sources=SOURCES,
    reference_settings={},
)
