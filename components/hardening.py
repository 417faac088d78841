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

from components.specs import DANGEROUS_CAPABILITIES, ServiceSpec

__all__ = [
    "DANGEROUS_CAPABILITIES",
    "GPU_OBSERVER_LABEL",
    "OBSERVER_GPU_CAPABILITIES",
    "Hardening",
    "Probe",
    "contract",
]

# Scratch space: writable but never executable, and bounded so a runaway write cannot fill the host's memory.
TMPFS_OPTIONS = "rw,noexec,nosuid,size=256m"
LOG_DRIVER = "json-file"
LOG_MAX_SIZE, LOG_MAX_FILES = "50m", "5"
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
    log_max_size: str
    log_max_files: str
    probe: Probe | None
    gpus: int  # 0: none; GPUs come from a device request, never from privileged mode
    # The allocator's devices, ``gpus`` per replica in replica order; empty: any ``gpus`` GPUs.
    gpu_device_ids: tuple[str, ...] = ()
    # Every GPU of the host with OBSERVER_GPU_CAPABILITIES only, outside the allocator (a GPU exporter).
    observes_gpus: bool = False


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


def contract(spec: ServiceSpec) -> Hardening:
    """The hardening every runtime applies to ``spec``."""
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
        log_driver=LOG_DRIVER,
        log_max_size=LOG_MAX_SIZE,
        log_max_files=LOG_MAX_FILES,
        probe=probe(spec),
        gpus=spec.gpu.count if spec.gpu else 0,
        gpu_device_ids=tuple(spec.gpu.device_ids or ()) if spec.gpu else (),
        observes_gpus=spec.observes_gpus,
    )
