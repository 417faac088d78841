"""Pinned images, ports, users and paths of Neurocore's monitoring services, by which the others find them."""

from __future__ import annotations

FLOWER_IMAGE = "mher/flower:2.0.1"
LOKI_IMAGE = "grafana/loki:3.3.2"
# The log collector: Vector's Alpine image (busybox wget for the probe; the distroless ones have no client).
LOG_COLLECTOR_IMAGE = "timberio/vector:0.43.1-alpine"
CADVISOR_IMAGE = "gcr.io/cadvisor/cadvisor:v0.49.1"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.8.2"
POSTGRES_EXPORTER_IMAGE = "prometheuscommunity/postgres-exporter:v0.15.0"

FLOWER_PORT = 5555
LOKI_PORT, CADVISOR_PORT, NODE_EXPORTER_PORT, POSTGRES_EXPORTER_PORT = 3100, 8080, 9100, 9187
# Fluentd's forward protocol (Docker's fluentd driver default, 24224) and Vector's API (its default, 8686).
FORWARD_PORT, COLLECTOR_API_PORT = 24224, 8686
LOG_COLLECTOR = "log-collector"
NOBODY = "65534:65534"  # the Prometheus project's images run as nobody
RULES_DIR = "/etc/prometheus/rules"
