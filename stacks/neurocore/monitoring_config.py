"""Configuration files of Neurocore's telemetry: Grafana's data sources, loki.yaml and promtail's."""

from __future__ import annotations

from typing import Any

import yaml

from stacks.alerts.alertmanager import ALERTMANAGER_PORT
from stacks.monitoring import PROMETHEUS_PORT
from stacks.neurocore.manifest import NAME
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import LOKI_PORT, PROMTAIL_PORT


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def grafana_datasources() -> str:
    """Grafana provisioning: Prometheus (default), Loki and Alertmanager, not editable in the UI."""
    return to_yaml(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus",
                    "uid": "prometheus",
                    "type": "prometheus",
                    "access": "proxy",
                    "url": f"http://prometheus:{PROMETHEUS_PORT}",
                    "isDefault": True,
                    "editable": False,
                },
                {
                    "name": "Loki",
                    "uid": "loki",
                    "type": "loki",
                    "access": "proxy",
                    "url": f"http://loki:{LOKI_PORT}",
                    "editable": False,
                },
                {
                    "name": "Alertmanager",
                    "uid": "alertmanager",
                    "type": "alertmanager",
                    "access": "proxy",
                    "url": f"http://alertmanager:{ALERTMANAGER_PORT}",
                    "jsonData": {"implementation": "prometheus"},
                    "editable": False,
                },
            ],
        }
    )


def loki_conf(s: Settings) -> str:
    """loki.yaml: single binary on the loki-data volume, retention enforced by the compactor, no usage reports."""
    return to_yaml(
        {
            "auth_enabled": False,
            "server": {"http_listen_port": LOKI_PORT, "grpc_listen_port": 9096, "log_level": "warn"},
            "common": {
                "instance_addr": "127.0.0.1",
                "path_prefix": "/loki",
                "storage": {"filesystem": {"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}},
                "replication_factor": 1,
                "ring": {"kvstore": {"store": "inmemory"}},
            },
            "schema_config": {
                "configs": [
                    {
                        "from": "2024-01-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {
                "retention_period": f"{s.log_retention_days * 24}h",
                "reject_old_samples": True,
                "reject_old_samples_max_age": "168h",
            },
            "compactor": {
                "working_directory": "/loki/compactor",
                "retention_enabled": True,
                "delete_request_store": "filesystem",
            },
            "analytics": {"reporting_enabled": False},
        }
    )


def promtail_conf() -> str:
    """promtail config: Docker's json-file logs, keeping only this system's lines (by their log attributes)."""
    return to_yaml(
        {
            "server": {"http_listen_port": PROMTAIL_PORT, "grpc_listen_port": 0, "log_level": "warn"},
            "positions": {"filename": "/var/lib/promtail/positions.yaml"},
            "clients": [{"url": f"http://loki:{LOKI_PORT}/loki/api/v1/push"}],
            "scrape_configs": [
                {
                    "job_name": "containers",
                    "static_configs": [
                        {
                            "targets": ["localhost"],
                            "labels": {"job": "containers", "__path__": "/var/lib/docker/containers/*/*-json.log"},
                        }
                    ],
                    "pipeline_stages": [
                        {
                            "json": {
                                "expressions": {
                                    "output": "log",
                                    "stream": "stream",
                                    "time": "time",
                                    "system": 'attrs."clinical.platform/system"',
                                    "service": 'attrs."clinical.platform/service"',
                                }
                            }
                        },
                        {"labels": {"stream": None, "system": None, "service": None}},
                        # Other systems' logs (and lines without attributes) never reach this system's Loki.
                        {"match": {"selector": f'{{job="containers", system!="{NAME}"}}', "action": "drop"}},
                        {"timestamp": {"source": "time", "format": "RFC3339Nano"}},
                        {"output": {"source": "output"}},
                    ],
                }
            ],
        }
    )
