"""What the managed clusters (EKS, GKE) decide alike, without one cloud importing the other.

Which GPU node type a system's GPU pods need (each pod lands on one node, so
the node must hold the largest pod, not the sum), how many such nodes, the
error naming the service no node type fits, which services use a bucket
(and so need a cloud identity), the API endpoint's allowed CIDRs, and the
kubeconfig of a cluster reached with a cloud CLI's short-lived token.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from components.gpu_catalog import NoMachineFitsError
from components.specs import GpuSpec, ServiceSpec, placeholders

# What a node keeps for the kubelet, the container runtime and the system DaemonSets (CNI, CSI, logging).
NODE_RESERVE_VCPUS = 0.5
NODE_RESERVE_GB = 1.5
GPU_NODE_LABEL = ("nvidia.com/gpu.present", "true")
GPU_TAINT = ("nvidia.com/gpu", "present")  # effect NoSchedule: only pods tolerating it land on GPU nodes


@dataclass(frozen=True)
class GpuPods:
    """A system's GPU pods: the largest request one node must hold, and every service's pods."""

    request: GpuSpec  # model (if any asked), GPUs of the largest pod, memory per GPU of the most demanding pod
    vcpus: float  # CPUs of the largest GPU pod plus the node's reserve
    memory_gb: float  # memory of the largest GPU pod plus the node's reserve
    services: tuple[ServiceSpec, ...]

    def nodes(self, gpus_per_node: int) -> int:
        """Nodes of ``gpus_per_node`` GPUs that hold every replica (pods of one service pack onto a node)."""
        total = 0
        for s in self.services:
            count = s.gpu.count if s.gpu else 1
            total += math.ceil(s.replicas / max(1, gpus_per_node // count))
        return max(total, 1)


def gpu_pods(services: Iterable[ServiceSpec]) -> GpuPods | None:
    """The GPU pods of a system's long-running services, or None when none asks for a GPU."""
    gpu = [s for s in services if s.gpu is not None and s.replicas > 0 and s.kind == "service"]
    if not gpu:
        return None
    models = {s.gpu.model for s in gpu if s.gpu and s.gpu.model}
    if len(models) > 1:
        names = ", ".join(f"'{s.name}'" for s in gpu)
        raise NoMachineFitsError(
            f"GPU services {names} ask for different GPU models {sorted(models)}; one node type serves a system"
        )
    request = GpuSpec(
        count=max(s.gpu.count for s in gpu if s.gpu),
        model=models.pop() if models else None,
        min_vram_gb=max(s.gpu.min_vram_gb for s in gpu if s.gpu),
    )
    return GpuPods(
        request=request,
        vcpus=max(s.resources.cpus for s in gpu) + NODE_RESERVE_VCPUS,
        memory_gb=max(s.resources.memory_mb for s in gpu) / 1024 + NODE_RESERVE_GB,
        services=tuple(gpu),
    )


def pod_needs(service: ServiceSpec) -> GpuPods:
    """One GPU service on its own (to tell which service no node type fits)."""
    found = gpu_pods([service.model_copy(update={"replicas": max(service.replicas, 1), "kind": "service"})])
    if found is None:
        raise ValueError(f"service '{service.name}' asks for no GPU")
    return found


def no_fit_error(
    cluster: str, pods: GpuPods, offered: Sequence[str], fits: Callable[[GpuPods], bool]
) -> NoMachineFitsError:
    """The error when no node type of ``cluster`` holds ``pods``: it names the service and the models offered."""
    alone = [s for s in pods.services if not fits(pod_needs(s))]
    for s in alone or pods.services:
        gpu = s.gpu
        if gpu is None:
            continue
        return NoMachineFitsError(
            f"no {cluster} GPU node type fits service '{s.name}' ({gpu.count} x {gpu.model or 'GPU'} >= "
            f"{gpu.min_vram_gb} GiB each, {s.resources.cpus:g} vCPUs, {s.resources.memory_mb / 1024:.1f} GiB); "
            f"GPU models offered: {', '.join(offered)}"
        )
    return NoMachineFitsError(f"no {cluster} GPU node type fits the GPU services")


def bucket_names(service: ServiceSpec) -> list[str]:
    """The buckets a service's env or files name with ``${bucket:NAME.FIELD}`` (sorted)."""
    texts = [*service.env.values(), *(f.content for f in service.files)]
    return sorted({name for text in texts for kind, name, _ in placeholders(text) if kind == "bucket" and name})


def check_api_cidrs(cidrs: Iterable[str]) -> list[str]:
    """The API endpoint's allowed CIDRs, checked: IPv4 networks, never the whole internet."""
    checked = []
    for cidr in cidrs:
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as exc:
            raise ValueError(f"kubernetes.apiAllowedCidrs: '{cidr}' is not an IPv4 network ({exc})") from None
        if net.prefixlen < 8:
            raise ValueError(
                f"kubernetes.apiAllowedCidrs: '{cidr}' opens the cluster API to much of the internet; "
                "list the hospital's egress ranges (or leave it empty for a private endpoint only)"
            )
        checked.append(str(net))
    return checked


def kubeconfig(cluster: str, endpoint: str, ca_data: str, command: str, args: Sequence[str] = ()) -> str:
    """A kubeconfig (JSON) for ``endpoint`` whose credentials come from ``command`` at each use (no static token)."""
    user: dict[str, object] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": command,
            "args": list(args),
            "interactiveMode": "Never",
            "provideClusterInfo": command == "gke-gcloud-auth-plugin",
        }
    }
    server = endpoint if endpoint.startswith("https://") else f"https://{endpoint}"
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
            "users": [{"name": cluster, "user": user}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
        }
    )
