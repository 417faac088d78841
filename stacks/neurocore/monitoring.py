"""Neurocore's monitoring services: Prometheus (prometheus.yml comes from the registry's last step), Grafana, Loki."""

from __future__ import annotations

from components.specs import FileSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec, VolumeSpec
from stacks.alerts.alertmanager import alertmanager_service
from stacks.alerts.receivers import AlertingConfig
from stacks.monitoring import grafana_service, prometheus_service, wget_probe
from stacks.neurocore.alerting import application_rules, host_rules
from stacks.neurocore.exporters import exporter_services
from stacks.neurocore.manifest import NAME
from stacks.neurocore.monitoring_config import grafana_datasources, loki_conf
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import LOKI_IMAGE, LOKI_PORT, RULES_DIR
from stacks.registry import SystemContext


def monitoring_services(ctx: SystemContext, s: Settings) -> list[ServiceSpec]:
    """Prometheus with the guide's rules, Alertmanager (replaced by ``stacks.alerts``), Grafana, Loki, exporters."""
    prometheus = prometheus_service(
        ctx,
        retention_days=s.metrics_retention_days,
        resources=ctx.size(
            ResourcesSpec(cpus=1, memory_mb=2048),
            ResourcesSpec(cpus=2, memory_mb=4096),
            ResourcesSpec(cpus=4, memory_mb=8192),
        ),
        storage_gb=50,
        files=(
            FileSpec(path=f"{RULES_DIR}/application.yml", content=application_rules()),
            FileSpec(path=f"{RULES_DIR}/host.yml", content=host_rules()),
        ),
        metrics_path="/metrics",
        depends_on=("alertmanager",),
    )
    # Replaced by the registry's last step (stacks.alerts) with the stack's receivers; built here because
    # Grafana's data source and the optional route name it.
    alertmanager = alertmanager_service(ctx, NAME, AlertingConfig())
    grafana = grafana_service(
        ctx,
        admin_user=s.grafana_admin_user,
        datasources=FileSpec(path="/etc/grafana/provisioning/datasources/neurocore.yml", content=grafana_datasources()),
        extra_env={
            "GF_SERVER_DOMAIN": "${route:grafana.host}",
            "GF_SECURITY_SECRET_KEY": "${secret:grafana-secret-key}",
            "GF_SECURITY_ALLOW_EMBEDDING": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            "GF_LOG_MODE": "console",
            # Users, dashboards and alert state in PostgreSQL, not Grafana's default SQLite file.
            "GF_DATABASE_TYPE": "postgres",
            "GF_DATABASE_HOST": "${postgres:grafana-db.host}:${postgres:grafana-db.port}",
            "GF_DATABASE_NAME": "${postgres:grafana-db.database}",
            "GF_DATABASE_USER": "${postgres:grafana-db.user}",
            "GF_DATABASE_PASSWORD": "${postgres:grafana-db.password}",
            "GF_DATABASE_SSL_MODE": "${postgres:grafana-db.sslmode}",
        },
        user="472:0",  # grafana, group root: the image's own layout
        start_period_s=60,
        metrics_path="/metrics",
        depends_on=("prometheus", "loki", "alertmanager"),
    )
    loki = ServiceSpec(
        name="loki",
        image=ctx.image("loki", LOKI_IMAGE),
        port=LOKI_PORT,
        command=("-config.file=/etc/loki/loki.yaml",),
        health=HealthCheckSpec(command=wget_probe(LOKI_PORT, "/ready"), interval_s=30, start_period_s=60),
        resources=ResourcesSpec(cpus=1, memory_mb=1024),
        user="10001:10001",  # loki, the image's user
        # Exclusive: a single-binary Loki owns its chunks, index and WAL.
        volumes=(VolumeSpec(name="loki-data", mount_path="/loki", size_gb=50, exclusive=True),),
        files=(FileSpec(path="/etc/loki/loki.yaml", content=loki_conf(s)),),
        metrics_path="/metrics",
    )
    return [prometheus, alertmanager, grafana, loki, *exporter_services(ctx, s)]
