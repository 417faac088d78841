"""Which GPUs each cloud offers, as data.

Used twice: ``StackConfig`` rejects a GPU request the stack's cloud cannot
satisfy before anything is registered, and cloud components pick the
cheapest machine that fits. Prices are on-demand USD per hour (us-east-1 /
us-central1, Linux, Q1 2026 public list figures); a contract with other
prices changes the estimate, not the choice logic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.specs import GpuSpec, ServiceSpec


@dataclass(frozen=True)
class GpuMachine:
    """One machine type with GPUs attached."""

    cloud: str
    machine_type: str
    gpu_model: str
    gpu_count: int
    vram_gb: int
    vcpus: int
    memory_gb: int
    usd_per_hour: float


# A GPU model's memory per card, in GiB, by the names this platform accepts.
GPU_MODELS: dict[str, int] = {
    "t4": 16,
    "v100": 16,
    "p100": 16,
    "a10g": 24,
    "l4": 24,
    "l40s": 48,
    "a100": 40,
    "a100-80gb": 80,
    "h100": 80,
    "rtx-a6000": 48,
    "rtx-4090": 24,
    "rtx-3090": 24,
}

MACHINES: tuple[GpuMachine, ...] = (
    GpuMachine("aws", "g4dn.xlarge", "t4", 1, 16, 4, 16, 0.526),
    GpuMachine("aws", "g4dn.2xlarge", "t4", 1, 16, 8, 32, 0.752),
    GpuMachine("aws", "g4dn.4xlarge", "t4", 1, 16, 16, 64, 1.204),
    GpuMachine("aws", "g4dn.8xlarge", "t4", 1, 16, 32, 128, 2.176),
    GpuMachine("aws", "g4dn.12xlarge", "t4", 4, 16, 48, 192, 3.912),
    GpuMachine("aws", "g5.xlarge", "a10g", 1, 24, 4, 16, 1.006),
    GpuMachine("aws", "g5.2xlarge", "a10g", 1, 24, 8, 32, 1.212),
    GpuMachine("aws", "g5.4xlarge", "a10g", 1, 24, 16, 64, 1.624),
    GpuMachine("aws", "g5.8xlarge", "a10g", 1, 24, 32, 128, 2.448),
    GpuMachine("aws", "g5.12xlarge", "a10g", 4, 24, 48, 192, 5.672),
    GpuMachine("aws", "g6.xlarge", "l4", 1, 24, 4, 16, 0.8048),
    GpuMachine("aws", "g6.2xlarge", "l4", 1, 24, 8, 32, 0.9776),
    GpuMachine("aws", "g6.4xlarge", "l4", 1, 24, 16, 64, 1.3232),
    GpuMachine("aws", "g6.8xlarge", "l4", 1, 24, 32, 128, 2.0144),
    GpuMachine("aws", "g6e.xlarge", "l40s", 1, 48, 4, 32, 1.86),
    GpuMachine("aws", "p3.2xlarge", "v100", 1, 16, 8, 61, 3.06),
    GpuMachine("aws", "p4d.24xlarge", "a100", 8, 40, 96, 1152, 32.77),
    GpuMachine("gcp", "n1-standard-8+t4", "t4", 1, 16, 8, 30, 0.73),
    GpuMachine("gcp", "n1-standard-8+v100", "v100", 1, 16, 8, 30, 2.86),
    GpuMachine("gcp", "g2-standard-4", "l4", 1, 24, 4, 16, 0.71),
    GpuMachine("gcp", "g2-standard-8", "l4", 1, 24, 8, 32, 0.85),
    GpuMachine("gcp", "a2-highgpu-1g", "a100", 1, 40, 12, 85, 3.67),
    GpuMachine("gcp", "a2-ultragpu-1g", "a100-80gb", 1, 80, 12, 170, 5.07),
    GpuMachine("gcp", "a3-highgpu-1g", "h100", 1, 80, 26, 234, 11.06),
)


def offered_models(cloud: str) -> list[str]:
    """GPU models a cloud offers (``onprem`` accepts every known model)."""
    if cloud == "onprem":
        return sorted(GPU_MODELS)
    return sorted({m.gpu_model for m in MACHINES if m.cloud == cloud})


def unsatisfiable_reason(cloud: str, gpu: GpuSpec) -> str | None:
    """Why ``cloud`` cannot satisfy ``gpu``, or None when it can."""
    if gpu.model is not None and gpu.model not in GPU_MODELS:
        return f"unknown GPU model '{gpu.model}'; known models: {', '.join(sorted(GPU_MODELS))}"
    if cloud == "onprem":
        vram = GPU_MODELS[gpu.model] if gpu.model else max(GPU_MODELS.values())
        if vram < gpu.min_vram_gb:
            return f"GPU '{gpu.model}' has {vram} GiB, below the {gpu.min_vram_gb} GiB asked for"
        return None
    if gpu.model is not None and gpu.model not in offered_models(cloud):
        return f"{cloud} offers no '{gpu.model}' GPU; choose one of: {', '.join(offered_models(cloud))}"
    if cheapest_machine(cloud, gpu) is None:
        return f"no {cloud} machine has {gpu.count} x {gpu.model or 'GPU'} with >= {gpu.min_vram_gb} GiB each"
    return None


def cheapest_machine(cloud: str, gpu: GpuSpec, min_vcpus: int = 0, min_memory_gb: int = 0) -> GpuMachine | None:
    """The cheapest machine of ``cloud`` that satisfies ``gpu`` and the CPU/memory floor."""
    fits = [
        m
        for m in MACHINES
        if m.cloud == cloud
        and (gpu.model is None or m.gpu_model == gpu.model)
        and m.gpu_count >= gpu.count
        and m.vram_gb >= gpu.min_vram_gb
        and m.vcpus >= min_vcpus
        and m.memory_gb >= min_memory_gb
    ]
    return min(fits, key=lambda m: m.usd_per_hour, default=None)


class NoMachineFitsError(ValueError):
    """No machine a cloud offers satisfies a system's needs (each cloud's ``choose_machine`` raises it)."""


def needs(services: Iterable[ServiceSpec]) -> tuple[float, float, GpuSpec | None]:
    """(vCPUs, GiB, GPU request) of one copy of every long-running service: what one VM must hold.

    The sum of the containers' limits with no extra margin, the same rule on
    every cloud, so their choices compare like for like.
    """
    running = [s for s in services if s.replicas > 0 and s.kind == "service"]
    cpus = sum(s.resources.cpus for s in running)
    memory = sum(s.resources.memory_mb for s in running) / 1024
    gpus = [s.gpu for s in running if s.gpu]
    if not gpus:
        return cpus, memory, None
    models = {g.model for g in gpus if g.model}
    if len(models) > 1:
        raise NoMachineFitsError(f"services ask for different GPU models {sorted(models)} on one machine")
    request = GpuSpec(
        count=sum(g.count for g in gpus),
        model=models.pop() if models else None,
        min_vram_gb=max(g.min_vram_gb for g in gpus),
    )
    return cpus, memory, request
