"""Choosing the Compute Engine machine for a system: the cheapest shape that fits its GPUs, CPUs and memory.

GPU shapes come in two kinds on Compute Engine: N1 machine types take
T4s as separately attached accelerators (``guest_accelerators``), while
G2 (L4), A2 (A100) and A3 (H100) machine types have their GPUs built in.
Only shapes offered in ``REGION`` are candidates: europe-west2 (London)
has T4 and L4 but no A100, H100 or V100, so a system that insists on
those gets ``NoMachineFitsError`` instead of a plan that cannot deploy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from components.gpu_catalog import GPU_MODELS, NoMachineFitsError, needs
from components.specs import ServiceSpec

REGION = "europe-west2"

# Prices, USD per hour, on-demand, Linux, no sustained-use or committed-use discount.
# Base: Google's us-central1 list prices (Compute Engine "VM instance pricing" and "GPU pricing" pages,
# Q1 2026; the same figures components/gpu_catalog.py uses for GCP: n1-standard-8 + T4 = 0.38 + 0.35,
# g2-standard-4 = 0.71). europe-west2 costs more: vCPU and memory of E2/N1/N2 x1.288 (London's
# per-vCPU / per-GiB rates over Iowa's), a T4 0.41 instead of 0.35, G2 (vCPU, memory and the L4
# together) x1.2. The uplifts were not re-read from the live price sheet in this offline build: check
# them before quoting a budget. The choice between shapes only depends on their order, which the
# uplift does not change within a family.
US_CENTRAL1_CPU_MACHINES: dict[str, tuple[int, int, float]] = {  # name: (vCPUs, GiB, USD/h)
    "e2-standard-2": (2, 8, 0.067006),
    "e2-standard-4": (4, 16, 0.134012),
    "e2-standard-8": (8, 32, 0.268024),
    "e2-standard-16": (16, 64, 0.536048),
    "e2-standard-32": (32, 128, 1.072096),
    "e2-highmem-4": (4, 32, 0.180876),
    "e2-highmem-8": (8, 64, 0.361752),
    "e2-highmem-16": (16, 128, 0.723504),
    "n2-standard-2": (2, 8, 0.097118),
    "n2-standard-4": (4, 16, 0.194236),
    "n2-standard-8": (8, 32, 0.388472),
    "n2-standard-16": (16, 64, 0.776944),
    "n2-standard-32": (32, 128, 1.553888),
}
US_CENTRAL1_N1_MACHINES: dict[str, tuple[int, int, float]] = {  # GPU hosts for attached T4s
    "n1-standard-4": (4, 15, 0.189999),
    "n1-standard-8": (8, 30, 0.379998),
    "n1-standard-16": (16, 60, 0.759996),
    "n1-standard-32": (32, 120, 1.519992),
}
# G2: the L4s come with the machine type; price = vCPU 0.024988 + GiB 0.002927 + L4 0.56 each (us-central1).
G2_MACHINES: dict[str, tuple[int, int, int]] = {  # name: (vCPUs, GiB, L4 count)
    "g2-standard-4": (4, 16, 1),
    "g2-standard-8": (8, 32, 1),
    "g2-standard-12": (12, 48, 1),
    "g2-standard-16": (16, 64, 1),
    "g2-standard-24": (24, 96, 2),
    "g2-standard-32": (32, 128, 1),
    "g2-standard-48": (48, 192, 4),
}
CPU_UPLIFT = 1.288
G2_UPLIFT = 1.2
T4_USD_PER_HOUR = 0.41  # europe-west2, per attached GPU
T4_COUNTS = (1, 2, 4)  # the T4 counts an N1 machine accepts

# Compute Engine accelerator type names by the platform's GPU model names (components/gpu_catalog.py).
ACCELERATOR_TYPES: dict[str, str] = {
    "t4": "nvidia-tesla-t4",
    "l4": "nvidia-l4",
    "v100": "nvidia-tesla-v100",
    "p100": "nvidia-tesla-p100",
    "a100": "nvidia-tesla-a100",
    "a100-80gb": "nvidia-a100-80gb",
    "h100": "nvidia-h100-80gb",
}


@dataclass(frozen=True)
class MachineChoice:
    """The Compute Engine shape picked for a system and what it has.

    ``machine_type`` is what the instance template asks for; ``accelerator_type``
    and ``gpu_count`` name its GPUs. Only N1 shapes need them attached as
    ``guest_accelerators`` (``attach_accelerators``); G2/A2/A3 have them built in.
    """

    machine_type: str
    usd_per_hour: float
    gpu_model: str | None
    accelerator_type: str | None
    gpu_count: int
    vcpus: int
    memory_gb: int

    @property
    def attach_accelerators(self) -> bool:
        """True when the GPUs are attached to the machine type rather than part of it (N1 + T4)."""
        return self.gpu_count > 0 and self.machine_type.startswith("n1-")

    @property
    def label(self) -> str:
        """How plans show the shape: ``n1-standard-8 + 1 x nvidia-tesla-t4`` or ``g2-standard-4``."""
        if self.attach_accelerators:
            return f"{self.machine_type} + {self.gpu_count} x {self.accelerator_type}"
        return self.machine_type


def _cpu_shapes() -> list[MachineChoice]:
    return [
        MachineChoice(name, round(price * CPU_UPLIFT, 4), None, None, 0, vcpus, mem)
        for name, (vcpus, mem, price) in US_CENTRAL1_CPU_MACHINES.items()
    ]


def _gpu_shapes() -> list[MachineChoice]:
    shapes = [
        MachineChoice(
            name,
            round(price * CPU_UPLIFT + count * T4_USD_PER_HOUR, 4),
            "t4",
            ACCELERATOR_TYPES["t4"],
            count,
            vcpus,
            mem,
        )
        for name, (vcpus, mem, price) in US_CENTRAL1_N1_MACHINES.items()
        for count in T4_COUNTS
    ]
    for name, (vcpus, mem, l4s) in G2_MACHINES.items():
        price = (vcpus * 0.024988 + mem * 0.002927 + l4s * 0.56) * G2_UPLIFT
        shapes.append(MachineChoice(name, round(price, 4), "l4", ACCELERATOR_TYPES["l4"], l4s, vcpus, mem))
    return shapes


CPU_SHAPES: tuple[MachineChoice, ...] = tuple(_cpu_shapes())
GPU_SHAPES: tuple[MachineChoice, ...] = tuple(_gpu_shapes())


def choose_machine(services: Iterable[ServiceSpec]) -> MachineChoice:
    """The cheapest shape in ``REGION`` with the GPUs (model, count, memory each), vCPUs and memory asked for."""
    cpus, memory, gpu = needs(list(services))
    min_vcpus, min_memory = math.ceil(cpus), math.ceil(memory)
    if gpu is None:
        fits = [m for m in CPU_SHAPES if m.vcpus >= min_vcpus and m.memory_gb >= min_memory]
        if not fits:
            raise NoMachineFitsError(f"no {REGION} machine has {cpus:g} vCPUs and {memory:.1f} GiB")
        return min(fits, key=lambda m: m.usd_per_hour)
    offered = sorted({m.gpu_model for m in GPU_SHAPES if m.gpu_model})
    if gpu.model is not None and gpu.model not in offered:
        raise NoMachineFitsError(f"{REGION} offers no '{gpu.model}' GPU for VMs; choose one of: {', '.join(offered)}")
    fits = [
        m
        for m in GPU_SHAPES
        if m.gpu_model is not None
        and (gpu.model is None or m.gpu_model == gpu.model)
        and m.gpu_count >= gpu.count
        and GPU_MODELS[m.gpu_model] >= gpu.min_vram_gb
        and m.vcpus >= min_vcpus
        and m.memory_gb >= min_memory
    ]
    if not fits:
        raise NoMachineFitsError(
            f"no {REGION} machine has {gpu.count} x {gpu.model or 'GPU'} >= {gpu.min_vram_gb} GiB "
            f"with {cpus:g} vCPUs and {memory:.1f} GiB"
        )
    return min(fits, key=lambda m: m.usd_per_hour)


def hourly_price(machine_type: str, accelerator: str | None = None, count: int = 0) -> float | None:
    """On-demand USD/h in ``REGION`` of a machine type, plus ``count`` attached accelerators.

    ``accelerator`` is a Compute Engine accelerator type (``nvidia-tesla-t4``)
    or the platform's model name (``t4``); ``"n1-standard-8+t4"`` (the GPU
    catalog's and the guides' spelling) means one T4 on an n1-standard-8.
    Machine types with built-in GPUs take no extra accelerator. None for
    anything not offered here.
    """
    if "+" in machine_type and accelerator is None:
        machine_type, accelerator = machine_type.split("+", 1)
        count = count or 1
    wanted = ACCELERATOR_TYPES.get(accelerator, accelerator) if accelerator else None
    for shape in CPU_SHAPES:
        if shape.machine_type == machine_type:
            return shape.usd_per_hour if wanted is None else None
    for shape in GPU_SHAPES:
        if shape.machine_type != machine_type:
            continue
        if not shape.attach_accelerators:  # built in: an extra accelerator cannot be attached
            return shape.usd_per_hour if wanted in (None, shape.accelerator_type) else None
        if wanted is None or count == 0:
            return round(US_CENTRAL1_N1_MACHINES[machine_type][2] * CPU_UPLIFT, 4)
        if wanted == shape.accelerator_type and shape.gpu_count == count:
            return shape.usd_per_hour
    return None
