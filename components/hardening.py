"""The one container hardening contract: what every runtime must enforce for a ``ServiceSpec``.

``contract(spec)`` derives it once (user, read-only root, capabilities,
no-new-privileges, limits, health probe, GPU request, restart, tmpfs,
logging); each runtime lowers it in its own syntax (``docker_host`` to
provider arguments, ``docker_on_vm`` to a compose entry, later Kubernetes to
a pod spec) and the policy pack imports its constants. A property test
checks that the lowerings agree on every field for generated specs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.specs import DANGEROUS_CAPABILITIES, ServiceSpec, SystemSpec

__all__ = [
    "DANGEROUS_CAPABILITIES",
    "GPU_OBSERVER_LABEL",
    "OBSERVER_GPU_CAPABILITIES",
    "Hardening",
    "Probe",
    "ShippedLogs",
    "contract",
    "shipped_logs",
]

# Scratch space: writable but never executable, and bounded so a runaway write cannot fill the host's memory.
TMPFS_OPTIONS = "rw,noexec,nosuid,size=256m"
LOG_DRIVER = "json-file"
LOG_MAX_SIZE, LOG_MAX_FILES = "50m", "5"
# Docker's driver for Fluentd's forward protocol (moby daemon/logger/fluentd), which the collector speaks.
SHIPPING_LOG_DRIVER = "fluentd"
# What a GPU observer (``ServiceSpec.observes_gpus``) gets of every GPU: nvidia-smi and NVML, no CUDA.
OBSERVER_GPU_CAPABILITIES = ("utility",)
# The Docker label marking a GPU observer, so the policy pack can tell it from a service grabbing every GPU.
GPU_OBSERVER_LABEL = "clinical.platform/observes-gpus"


@dataclass(frozen=True)
class Probe:
    """A health probe in exec form, with its timings in seconds."""

    test: tuple[str, ...]
    interval_s: int
    timeout_s: int
    retries: int
    start_period_s: int


@dataclass(frozen=True)
class Hardening:
    """Everything a runtime must set for one service; defaults come from the spec's secure defaults."""

    user: str | None
    read_only_root: bool
    cap_drop: tuple[str, ...]
    cap_add: tuple[str, ...]
    no_new_privileges: bool
    memory_mb: int
    swap_mb: int  # memory + swap; equal to memory_mb means no swap
    cpus: float
    shm_mb: int
    init: bool
    restart: Literal["no", "unless-stopped"]
    tmpfs: dict[str, str]  # path -> mount options
    log_driver: str
    log_opts: dict[str, str]  # the driver's options (json-file: rotation; fluentd: where and how to ship)
    probe: Probe | None
    gpus: int  # 0: none; GPUs come from a device request, never from privileged mode
    # The allocator's devices, ``gpus`` per replica in replica order; empty: any ``gpus`` GPUs.
    gpu_device_ids: tuple[str, ...] = ()
    # Every GPU of the host with OBSERVER_GPU_CAPABILITIES only, outside the allocator (a GPU exporter).
    observes_gpus: bool = False


@dataclass(frozen=True)
class ShippedLogs:
    """Where a container's lines go when its system ships logs: the collector's loopback port on the host."""

    system: str
    service: str
    host_port: int
    buffer_limit: str


def shipped_logs(system: SystemSpec, svc: ServiceSpec) -> ShippedLogs | None:
    """The shipping of ``svc``'s logs: None without ``log_shipping`` and for the collector itself (its own lines
    stay local, or a collector in trouble would feed its errors back to itself)."""
    shipping = system.log_shipping
    if shipping is None or svc.name == shipping.collector:
        return None
    return ShippedLogs(system.name, svc.name, shipping.host_port, shipping.buffer_limit)


def log_settings(logs: ShippedLogs | None) -> tuple[str, dict[str, str]]:
    """The log driver and its options: rotated JSON files on the host, or the system's collector."""
    if logs is None:
        return LOG_DRIVER, {"max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES}
    return SHIPPING_LOG_DRIVER, {
        # The daemon connects from the host's network namespace: the collector is published on loopback only.
        "fluentd-address": f"tcp://127.0.0.1:{logs.host_port}",
        # Never block: the container starts and writes while the collector is down; lines wait in the buffer.
        "fluentd-async": "true",
        "fluentd-buffer-limit": logs.buffer_limit,
        "fluentd-sub-second-precision": "true",
        # <system>.<service>: the collector's labels, the same on a Docker host and in a VM's compose project.
        "tag": f"{logs.system}.{logs.service}",
    }


def probe(spec: ServiceSpec) -> Probe | None:
    """The service's health probe: HTTP paths become ``curl -fsS`` against its port inside the container."""
    health = spec.health
    if health is None:
        return None
    if health.http_path is not None:
        test: tuple[str, ...] = ("curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{spec.port}{health.http_path}")
    else:
        test = tuple(health.command or ())
    return Probe(test, health.interval_s, health.timeout_s, health.retries, health.start_period_s)


def contract(spec: ServiceSpec, logs: ShippedLogs | None = None) -> Hardening:
    """The hardening every runtime applies to ``spec``; ``logs`` when its system ships its logs."""
    log_driver, log_opts = log_settings(logs)
    return Hardening(
        user=spec.user,
        read_only_root=spec.read_only_root,
        cap_drop=("ALL",),
        cap_add=tuple(spec.capabilities_add),
        no_new_privileges=True,
        memory_mb=spec.resources.memory_mb,
        swap_mb=spec.resources.memory_mb,
        cpus=spec.resources.cpus,
        shm_mb=spec.resources.shm_mb,
        init=True,
        restart="no" if spec.kind == "job" else "unless-stopped",
        tmpfs={path: TMPFS_OPTIONS for path in spec.tmpfs},
        log_driver=log_driver,
        log_opts=log_opts,
        probe=probe(spec),
        gpus=spec.gpu.count if spec.gpu else 0,
        gpu_device_ids=tuple(spec.gpu.device_ids or ()) if spec.gpu else (),
        observes_gpus=spec.observes_gpus,
    )
