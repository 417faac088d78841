"""Monitoring pieces several systems run (Prometheus, Grafana), as specs with one set of secure defaults.

A system that monitors itself calls these builders instead of writing its
own copy, so the hardening lives in one place: Grafana with a named admin
and a generated password, no sign-up, no anonymous access, secure strict
cookies, no phoning home; Prometheus and Grafana as their images' non-root
users, with their data on volumes and their configuration as files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from components.specs import FileSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec, VolumeSpec


class Images(Protocol):
    """Where a builder reads the stack's image of a service (``SystemContext`` is one).

    A protocol rather than ``SystemContext`` itself, so that the registry's last build
    step (``stacks.alerts``) may use these builders without an import circle.
    """

    def image(self, service: str, default: str | None = None) -> str: ...


PROMETHEUS_IMAGE = "prom/prometheus:v2.55.1"
REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.66.0-alpine"
REDIS_EXPORTER_PORT = 9121
GRAFANA_IMAGE = "grafana/grafana:11.4.0"
PROMETHEUS_PORT, GRAFANA_PORT = 9090, 3000
PROMETHEUS_USER = "65534:65534"  # nobody, as the Prometheus project's images run


def wget_probe(port: int, path: str) -> tuple[str, ...]:
    """An exec health check for images that ship busybox wget but no curl."""
    return ("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}")


def prometheus_datasource(name: str = "Prometheus") -> str:
    """Grafana provisioning with the system's Prometheus as the default data source."""
    return f"""apiVersion: 1
datasources:
  - name: {name}
    type: prometheus
    access: proxy
    url: http://prometheus:{PROMETHEUS_PORT}
    isDefault: true
    editable: false
"""


def prometheus_service(
    ctx: Images,
    *,
    retention_days: int,
    files: Sequence[FileSpec],
    resources: ResourcesSpec | None = None,
    storage_gb: int = 20,
    depends_on: tuple[str, ...] = (),
    metrics_path: str | None = None,
) -> ServiceSpec:
    """Prometheus with its configuration and rule files, keeping ``retention_days`` of metrics."""
    return ServiceSpec(
        name="prometheus",
        image=ctx.image("prometheus", PROMETHEUS_IMAGE),
        port=PROMETHEUS_PORT,
        command=(
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={retention_days}d",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ),
        health=HealthCheckSpec(command=wget_probe(PROMETHEUS_PORT, "/-/healthy"), interval_s=30),
        resources=resources or ResourcesSpec(cpus=0.5, memory_mb=1024),
        user=PROMETHEUS_USER,
        # Exclusive: the TSDB takes a lock file; one Prometheus per data directory.
        volumes=(VolumeSpec(name="prometheus-data", mount_path="/prometheus", size_gb=storage_gb, exclusive=True),),
        files=tuple(files),
        metrics_path=metrics_path,
        depends_on=depends_on,
    )


def grafana_service(
    ctx: Images,
    *,
    admin_user: str,
    datasources: FileSpec,
    extra_env: Mapping[str, str] | None = None,
    user: str = "472:472",
    start_period_s: int = 30,
    depends_on: tuple[str, ...] = ("prometheus",),
    metrics_path: str | None = None,
) -> ServiceSpec:
    """Grafana behind its own login at the route named ``grafana``, admin password ``${secret:grafana-admin-password}``."""
    env = {
        "GF_SERVER_HTTP_PORT": str(GRAFANA_PORT),
        "GF_SERVER_ROOT_URL": "${route:grafana.url}",
        "GF_SECURITY_ADMIN_USER": admin_user,
        "GF_SECURITY_ADMIN_PASSWORD": "${secret:grafana-admin-password}",
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_SECURITY_COOKIE_SAMESITE": "strict",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        **(extra_env or {}),
    }
    return ServiceSpec(
        name="grafana",
        image=ctx.image("grafana", GRAFANA_IMAGE),
        port=GRAFANA_PORT,
        env=env,
        health=HealthCheckSpec(
            command=wget_probe(GRAFANA_PORT, "/api/health"), interval_s=30, start_period_s=start_period_s
        ),
        resources=ResourcesSpec(cpus=0.5, memory_mb=512),
        user=user,
        # Exclusive: grafana.db (SQLite) and the plugins Grafana installs there; one Grafana per directory.
        volumes=(VolumeSpec(name="grafana-data", mount_path="/var/lib/grafana", size_gb=5, exclusive=True),),
        files=(datasources,),
        metrics_path=metrics_path,
        depends_on=depends_on,
    )


def redis_exporter_service(ctx: Images, redis: str, *, check_keys: tuple[str, ...] = ()) -> ServiceSpec:
    """The Redis exporter of the system's Redis ``redis``, over TLS where the Redis has it.

    ``check_keys`` (``db0=celery`` ...) are reported as ``redis_key_size``: a Celery queue's depth.
    """
    env = {
        "REDIS_ADDR": f"${{redis:{redis}.scheme}}://${{redis:{redis}.host}}:${{redis:{redis}.port}}",
        "REDIS_PASSWORD": f"${{redis:{redis}.password}}",
        # A private CA (in-cluster Redis, Memorystore) is mounted and named here; empty: the system's roots.
        "REDIS_EXPORTER_TLS_CA_CERT_FILE": f"${{redis:{redis}.ca_file}}",
    }
    if check_keys:
        env["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] = ",".join(check_keys)
    return ServiceSpec(
        name="redis-exporter",
        image=ctx.image("redis-exporter", REDIS_EXPORTER_IMAGE),
        port=REDIS_EXPORTER_PORT,
        env=env,
        health=HealthCheckSpec(command=wget_probe(REDIS_EXPORTER_PORT, "/health"), interval_s=30),
        resources=ResourcesSpec(cpus=0.25, memory_mb=128),
        user="59000:59000",  # the image's user
        metrics_path="/metrics",
    )
