"""Which of a host's GPUs each service gets, by device id.

Docker hands every container that asks for "count: 1" the same first GPU,
so two services on a two-GPU host both land on GPU 0. This module assigns
device ids instead: every replica of every GPU service (across all systems
of a host) asks for ``count`` distinct GPUs with ``min_vram_gb`` free on each,
and the allocator places them, largest requests first, on the cards with
the most free memory (spreading load, so two services do not contend for
one card while another idles). If spreading strands a request, a
first-fit pass (tighter packing) is tried before giving up. Deterministic:
the same requests always get the same devices.

It knows nothing of clouds or runtimes: the Docker host runtime feeds it
the stack's ``hostGpus``, the VM runtime one VM's GPUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.specs import ServiceSpec


@dataclass(frozen=True)
class GpuDemand:
    """One replica's GPU request: ``count`` distinct GPUs with ``vram_gb`` each."""

    system: str
    service: str
    replica: int
    count: int
    vram_gb: int

    @property
    def label(self) -> str:
        """``system/service`` (with the replica number when there are several), as error messages name it."""
        return f"{self.system}/{self.service}" + (f"#{self.replica + 1}" if self.replica else "")


class GpuOvercommitError(ValueError):
    """The requests do not fit the GPUs: the message names every GPU service and its request."""


def demands(system: str, services: Iterable[ServiceSpec], *, per_replica: bool = True) -> list[GpuDemand]:
    """The GPU requests of a system's running services: one per replica (``per_replica``, a Docker host), or
    one per service (a VM, which runs one copy of each service)."""
    out = []
    for svc in services:
        if svc.gpu is None or svc.replicas == 0 or svc.kind != "service":
            continue
        for replica in range(svc.replicas if per_replica else 1):
            out.append(GpuDemand(system, svc.name, replica, svc.gpu.count, svc.gpu.min_vram_gb))
    return out


def _place(demands: Sequence[GpuDemand], count: int, vram_gb: int, spread: bool) -> dict[GpuDemand, tuple[int, ...]]:
    free = [vram_gb] * count
    placed: dict[GpuDemand, tuple[int, ...]] = {}
    # Largest first; ties by name, so the result never depends on the order systems were listed in.
    for demand in sorted(demands, key=lambda d: (-d.vram_gb * d.count, -d.vram_gb, d.system, d.service, d.replica)):
        fits = [i for i in range(count) if free[i] >= demand.vram_gb]
        if len(fits) < demand.count:
            raise GpuOvercommitError(demand.label)
        chosen = sorted(fits, key=lambda i: (-free[i], i))[: demand.count] if spread else fits[: demand.count]
        for i in chosen:
            free[i] -= demand.vram_gb
        placed[demand] = tuple(sorted(chosen))
    return placed


def allocate(demands: Sequence[GpuDemand], count: int, vram_gb: int, model: str) -> dict[GpuDemand, tuple[int, ...]]:
    """Device ids for every demand on ``count`` GPUs of ``vram_gb`` each; raises ``GpuOvercommitError`` with
    every request and the fixes when they do not fit."""
    try:
        return _place(demands, count, vram_gb, spread=True)
    except GpuOvercommitError:
        pass
    try:
        return _place(demands, count, vram_gb, spread=False)
    except GpuOvercommitError as exc:
        asked = ", ".join(f"{d.label} {d.count} x {d.vram_gb} GiB" for d in demands)
        total = sum(d.count * d.vram_gb for d in demands)
        raise GpuOvercommitError(
            f"the GPU requests do not fit {count} x {model} ({vram_gb} GiB each): {asked} ({total} GiB in all; "
            f"{exc} has no room left); add GPUs (hostGpus.count), use a bigger model (hostGpus.model), "
            "run fewer replicas of a GPU service, or set `gpu: false` on one"
        ) from None


def per_service(placed: dict[GpuDemand, tuple[int, ...]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(system, service)`` -> the device ids of its replicas in replica order (``count`` ids per replica)."""
    out: dict[tuple[str, str], list[str]] = {}
    for demand in sorted(placed, key=lambda d: (d.system, d.service, d.replica)):
        out.setdefault((demand.system, demand.service), []).extend(str(i) for i in placed[demand])
    return {key: tuple(ids) for key, ids in out.items()}


def vram_per_gpu(placed: dict[GpuDemand, tuple[int, ...]], count: int) -> list[int]:
    """GiB requested on each GPU, for reports and tests."""
    used = [0] * count
    for demand, ids in placed.items():
        for i in ids:
            used[i] += demand.vram_gb
    return used
