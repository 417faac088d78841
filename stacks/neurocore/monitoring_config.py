"""Configuration files of Neurocore's telemetry: Grafana's data sources, loki.yaml and the log collector's."""

from __future__ import annotations

from typing import Any

import yaml

from stacks.alerts.alertmanager import ALERTMANAGER_PORT
from stacks.monitoring import PROMETHEUS_PORT
from stacks.neurocore.settings import Settings
from stacks.neurocore.topology import COLLECTOR_API_PORT, FORWARD_PORT, LOKI_PORT


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


# The collector's remap (VRL): Docker's record (log, source, container_name; moby daemon/logger/fluentd) and its
# tag "<system>.<service>" (components.hardening.log_settings) become the line and its labels.
SHAPE_LINES = """parts = split(string!(.tag), ".", limit: 2)
.system = parts[0]
.service = parts[1]
.container = replace(string!(.container_name), r'^/', "")
.stream = .source
.message = del(.log)
"""


def collector_conf() -> str:
    """vector.yaml of the log collector: Fluentd's forward protocol from Docker's daemon in, Loki out.

    Only this system's containers have the daemon send here (``SystemSpec.log_shipping``); the labels are the
    system, the service, the container and the stream, the line is the container's own text."""
    return to_yaml(
        {
            # Scratch only (tmpfs): the sink buffers in memory, nothing is kept across restarts.
            "data_dir": "/tmp",
            # /health for the container's probe, on the container's loopback only; the playground stays off.
            "api": {"enabled": True, "address": f"127.0.0.1:{COLLECTOR_API_PORT}", "playground": False},
            "sources": {"docker": {"type": "fluent", "address": f"0.0.0.0:{FORWARD_PORT}"}},
            "transforms": {"lines": {"type": "remap", "inputs": ["docker"], "source": SHAPE_LINES}},
            "sinks": {
                "loki": {
                    "type": "loki",
                    "inputs": ["lines"],
                    "endpoint": f"http://loki:{LOKI_PORT}",
                    "encoding": {"codec": "text"},
                    "labels": {
                        "system": "{{ system }}",
                        "service": "{{ service }}",
                        "container": "{{ container }}",
                        "stream": "{{ stream }}",
                    },
                    # Vector's default, said aloud: Loki (2.4 and later) orders late lines itself, none is dropped.
                    "out_of_order_action": "accept",
                }
            },
        }
    )
