"""A system's prometheus.yml, derived from its final spec: a job per service with ``metrics_path``, the probes.

Rendered by the registry's last build step, so services added after the
system module (backup services, exporters) are scraped without the module
listing them. Targets are service names: Docker's DNS on a host or VM, the
headless Services on a cluster; DNS discovery returns every replica.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.specs import SystemSpec
from stacks.alerts.alertmanager import ALERTMANAGER_PORT
from stacks.alerts.probes import BLACKBOX_PORT, Probe
from stacks.monitoring import PROMETHEUS_PORT

RULES_DIR = "/etc/prometheus/rules"
CONFIG_PATH = "/etc/prometheus/prometheus.yml"


def _probe_job(module: str, found: list[Probe]) -> dict[str, Any]:
    """Prometheus' multi-target exporter pattern: the URL becomes ``instance``, the exporter is scraped."""
    return {
        "job_name": f"probe-{module}",
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": [
            {"targets": [p.url], "labels": {"probe": module, "service": p.service}} for p in found if p.module == module
        ],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": f"blackbox-exporter:{BLACKBOX_PORT}"},
        ],
    }


def prometheus_conf(spec: SystemSpec, environment: str, found: list[Probe]) -> str:
    """prometheus.yml: labels naming the system, Alertmanager, the rule directory, one job per metrics endpoint."""
    jobs: list[dict[str, Any]] = []
    for svc in spec.services:
        if svc.metrics_path is None or svc.port is None or svc.replicas == 0 or svc.kind == "job":
            continue
        port = svc.metrics_port or svc.port
        job: dict[str, Any] = {"job_name": svc.name, "metrics_path": svc.metrics_path}
        if svc.name == "prometheus":
            job["static_configs"] = [{"targets": [f"127.0.0.1:{PROMETHEUS_PORT}"]}]
        else:
            job["dns_sd_configs"] = [{"names": [svc.name], "type": "A", "port": port}]
        jobs.append(job)
    for module in sorted({p.module for p in found}):
        jobs.append(_probe_job(module, found))
    return yaml.safe_dump(
        {
            "global": {
                "scrape_interval": "15s",
                "evaluation_interval": "15s",
                "scrape_timeout": "10s",
                "external_labels": {"system": spec.name, "environment": environment},
            },
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"alertmanager:{ALERTMANAGER_PORT}"]}]}]},
            "rule_files": [f"{RULES_DIR}/*.yml"],
            "scrape_configs": jobs,
        },
        sort_keys=False,
        width=1000,
    )
