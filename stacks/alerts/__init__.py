"""Alert delivery for every system: Prometheus with rules, Alertmanager with receivers, probes and exporters.

``with_alerting`` is the last step of ``stacks.registry.build``: it runs on
the system's final spec (after overrides and any backup services), so what
it scrapes, probes and alerts on is derived from the services that will
actually run. Modules: ``receivers`` (the ``alerting`` config and its
secrets), ``alertmanager``, ``probes`` (blackbox exporter), ``host`` (node
exporter), ``gpu`` (GPU exporter), ``rules`` (the platform's rule groups), ``scrape`` (prometheus.yml).
"""

from __future__ import annotations

from typing import Any

from components.specs import FileSpec, ServiceSpec, SystemSpec
from stacks.alerts import rules
from stacks.alerts.alertmanager import alertmanager_service
from stacks.alerts.gpu import gpu_exporter_service, runs_on_gpus
from stacks.alerts.host import node_exporter_service
from stacks.alerts.probes import HEALTH_MODULE, TLS_MODULE, blackbox_service, probes
from stacks.alerts.receivers import AlertingConfig
from stacks.alerts.scrape import CONFIG_PATH, RULES_DIR, prometheus_conf
from stacks.monitoring import Images, prometheus_service

# Services this step may add to any system (their images may be overridden like the system's own).
PLATFORM_SERVICES = ("prometheus", "alertmanager", "blackbox-exporter", "node-exporter")
# ... and this one only to systems whose services compute on the host's GPUs (Docker hosts and VMs).
GPU_PLATFORM_SERVICES = ("gpu-exporter",)
# The backup contract: a backup service serves its metrics on this port.
BACKUP_METRICS_PORT = 9199
PLATFORM_RULES_PATH = f"{RULES_DIR}/platform.yml"
DEFAULT_RETENTION_DAYS = 30

__all__ = ["GPU_PLATFORM_SERVICES", "PLATFORM_SERVICES", "AlertingConfig", "with_alerting"]


def _platform_rules(system: str, services: list[ServiceSpec], *, disk: bool, gpu: bool, found: list[Any]) -> str:
    groups = [
        rules.availability_group(
            system,
            probes=any(p.module == HEALTH_MODULE for p in found),
            routes=any(p.module == TLS_MODULE for p in found),
        ),
        rules.delivery_group(system),
    ]
    if disk:
        groups.append(rules.disk_group(system))
    if gpu:
        groups.append(rules.gpu_group(system))
    if any(s.port == BACKUP_METRICS_PORT and s.metrics_path for s in services):
        groups.append(rules.backup_group(system))
    return rules.to_rule_file(groups)


def with_alerting(
    spec: SystemSpec, *, images: Images, environment: str, host_agents: bool, alerting: AlertingConfig
) -> SystemSpec:
    """``spec`` with Prometheus (prometheus.yml derived from the spec, the platform's rules), Alertmanager, probes.

    A system's own Prometheus keeps its guide's rule files (under ``/etc/prometheus/rules``) and
    settings; a system without one gets one. Alertmanager is always this step's.
    """
    services = [s for s in spec.services if s.name != "alertmanager"]
    names = {s.name for s in services}
    added_disk = host_agents and "node-exporter" not in names
    if added_disk:
        services.append(node_exporter_service(images))
    # Where the runtime owns the host (a Docker host, a VM) and a service computes on its GPUs: a stack with
    # GPUs off (`gpu: false`, the e2e stacks) has nothing to observe; a cluster's GPU nodes are the cluster's.
    added_gpu = host_agents and runs_on_gpus(services) and "gpu-exporter" not in names
    if added_gpu:
        services.append(gpu_exporter_service(images))
    services.append(alertmanager_service(images, spec.name, alerting))
    found = probes(spec.model_copy(update={"services": tuple(services)}))
    if found:
        services.append(blackbox_service(images, found))
    prometheus = next((s for s in services if s.name == "prometheus"), None)
    if prometheus is None:
        prometheus = prometheus_service(images, retention_days=DEFAULT_RETENTION_DAYS, files=())
        services.append(prometheus)
    index = services.index(prometheus)
    # Prometheus scrapes itself too (rule evaluation failures, notification errors).
    prometheus = services[index] = prometheus.model_copy(update={"metrics_path": prometheus.metrics_path or "/metrics"})
    final = spec.model_copy(update={"services": tuple(services)})
    platform_rules = FileSpec(
        path=PLATFORM_RULES_PATH,
        content=_platform_rules(spec.name, services, disk=added_disk, gpu=added_gpu, found=found),
    )
    config = FileSpec(path=CONFIG_PATH, content=prometheus_conf(final, environment, found))
    kept = tuple(f for f in prometheus.files if f.path not in {CONFIG_PATH, PLATFORM_RULES_PATH})
    services[index] = prometheus.model_copy(update={"files": (config, platform_rules, *kept)})
    known = {x.name for x in spec.secrets}
    secrets = (*spec.secrets, *(s for s in alerting.secrets() if s.name not in known))
    # Validated again as a whole: every placeholder of the added files names something the system declares.
    return SystemSpec.model_validate({**dict(spec), "services": tuple(services), "secrets": secrets})
