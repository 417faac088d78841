"""Neurocore's alert rules: the guide's rule and the metrics it says to watch (receivers: ``stacks.alerts``)."""

from __future__ import annotations

from typing import Any

from stacks.neurocore.monitoring_config import to_yaml

# The guide's alert rule (monitoring/prometheus/alerts.yml), verbatim.
GUIDE_ERROR_RATE_EXPR = 'rate(http_requests_total{status=~"5.."}[5m]) > 0.05'


def _rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def application_rules() -> str:
    """Alert rules on the application: the guide's HighErrorRate and its key application and database metrics."""
    return to_yaml(
        {
            "groups": [
                {
                    "name": "neurocore-application",
                    "rules": [
                        _rule("HighErrorRate", GUIDE_ERROR_RATE_EXPR, "5m", "critical", "High error rate detected"),
                        _rule(
                            "ApiDown",
                            'absent(up{job="api"} == 1)',
                            "2m",
                            "critical",
                            "No Neurocore API replica is up",
                        ),
                        _rule(
                            "ApiReplicaDown",
                            'up{job="api"} == 0',
                            "5m",
                            "warning",
                            "API replica {{ $labels.instance }} is down",
                        ),
                        _rule(
                            "HighResponseTime",
                            'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 2',
                            "5m",
                            "warning",
                            "API p95 response time above 2 s",
                        ),
                        _rule(
                            "CeleryWorkersOffline",
                            "(sum(flower_worker_online) or vector(0)) < 1",
                            "5m",
                            "critical",
                            "No Celery worker is online; PDFs and chapters are not processed",
                        ),
                    ],
                },
                {
                    "name": "neurocore-database",
                    "rules": [
                        _rule("PostgresDown", "pg_up == 0", "1m", "critical", "PostgreSQL is unreachable"),
                        _rule(
                            "PostgresConnectionsHigh",
                            "sum by (instance) (pg_stat_activity_count) / on (instance) pg_settings_max_connections > 0.8",
                            "5m",
                            "warning",
                            "PostgreSQL uses more than 80% of max_connections",
                        ),
                    ],
                },
            ]
        }
    )


def host_rules() -> str:
    """Alert rules on the host and containers (the guide's infrastructure metrics and "Disk Space Full")."""
    disk = 'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"} * 100'
    return to_yaml(
        {
            "groups": [
                {
                    "name": "neurocore-host",
                    "rules": [
                        _rule(
                            "HostHighCpu",
                            '100 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100 > 80',
                            "10m",
                            "warning",
                            "Host CPU above 80% for 10 minutes",
                        ),
                        _rule(
                            "HostHighMemory",
                            "(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > 85",
                            "10m",
                            "warning",
                            "Host memory above 85% for 10 minutes",
                        ),
                        _rule("HostDiskSpaceLow", f"{disk} < 15", "5m", "warning", "Less than 15% disk space left"),
                        _rule(
                            "HostDiskSpaceCritical", f"{disk} < 10", "5m", "critical", "Less than 10% disk space left"
                        ),
                        _rule(
                            "ContainerHighMemory",
                            "container_memory_working_set_bytes / container_spec_memory_limit_bytes > 0.9"
                            " and container_spec_memory_limit_bytes > 0",
                            "5m",
                            "warning",
                            "Container {{ $labels.id }} uses more than 90% of its memory limit",
                        ),
                    ],
                },
                {
                    "name": "neurocore-monitoring",
                    "rules": [
                        _rule(
                            "TargetDown",
                            'up{job!="api"} == 0',
                            "5m",
                            "warning",
                            "{{ $labels.job }} ({{ $labels.instance }}) cannot be scraped",
                        ),
                    ],
                },
            ]
        }
    )
