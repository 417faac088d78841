"""Choosing the EC2 machine for a system: the cheapest type that fits its GPUs, CPUs and memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.gpu_catalog import MACHINES, NoMachineFitsError, cheapest_machine, needs
from components.specs import ServiceSpec

# CPU-only types (us-east-1 on-demand Linux USD/h).
CPU_MACHINES = (
    ("t3.large", 2, 8, 0.0832),
    ("m6i.large", 2, 8, 0.096),
    ("m6i.xlarge", 4, 16, 0.192),
    ("m6i.2xlarge", 8, 32, 0.384),
    ("r6i.2xlarge", 8, 64, 0.504),
    ("m6i.4xlarge", 16, 64, 0.768),
    ("r6i.4xlarge", 16, 128, 1.008),
    ("m6i.8xlarge", 32, 128, 1.536),
)


@dataclass(frozen=True)
class MachineChoice:
    """The machine type picked for a system and why."""

    instance_type: str
    usd_per_hour: float
    gpu_model: str | None
    gpu_count: int
    vcpus: int
    memory_gb: int


def choose_machine(services: Iterable[ServiceSpec]) -> MachineChoice:
    """The cheapest AWS machine for a system (GPU types from the GPU catalog)."""
    cpus, memory, gpu = needs(list(services))
    if gpu is not None:
        found = cheapest_machine("aws", gpu, min_vcpus=int(cpus + 0.999), min_memory_gb=int(memory + 0.999))
        if found is None:
            raise NoMachineFitsError(
                f"no AWS machine has {gpu.count} x {gpu.model or 'GPU'} >= {gpu.min_vram_gb} GiB "
                f"with {cpus:g} vCPUs and {memory:.1f} GiB"
            )
        return MachineChoice(
            found.machine_type, found.usd_per_hour, found.gpu_model, found.gpu_count, found.vcpus, found.memory_gb
        )
    for name, vcpus, mem, price in sorted(CPU_MACHINES, key=lambda m: m[3]):
        if vcpus >= cpus and mem >= memory:
            return MachineChoice(name, price, None, 0, vcpus, mem)
    raise NoMachineFitsError(f"no AWS machine has {cpus:g} vCPUs and {memory:.1f} GiB")


def hourly_price(instance_type: str) -> float | None:
    """On-demand USD/h of any catalogued AWS type."""
    for m in MACHINES:
        if m.cloud == "aws" and m.machine_type == instance_type:
            return m.usd_per_hour
    return next((price for name, _, _, price in CPU_MACHINES if name == instance_type), None)
