"""Neutral types between a cloud that offers a Kubernetes cluster and the ``kubernetes`` runtime.

A cluster cloud (an existing cluster on premises, EKS, GKE) gives the
runtime a provider bound to the cluster, where GPU pods must go, which
storage class and ingress class to use, and (on clouds) the managed data
stores of each system. The runtime decides everything inside the cluster.
Only plain data lives here, so no cloud imports the runtime or the reverse.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Where the NVIDIA device plugin, GKE and EKS GPU AMIs put their marks on GPU nodes.
GPU_RESOURCE = "nvidia.com/gpu"


class KubernetesSettings(BaseModel):
    """How a stack uses its cluster (``clinical-platform:kubernetes``, runtime ``kubernetes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    namespace_prefix: str = Field(
        "",
        alias="namespacePrefix",
        pattern=r"^([a-z][a-z0-9-]{0,20}-)?$",
        description="Prefix of every system's namespace (<prefix><system>), for clusters shared with other teams.",
    )
    storage_class: str | None = Field(
        None,
        alias="storageClass",
        description="StorageClass of persistent volumes; None: the cluster's default (EKS/GKE: the stack's "
        "encrypted class).",
    )
    ingress_class: str = Field("nginx", alias="ingressClass", description="IngressClass the routes use.")
    install_ingress_controller: bool = Field(
        False,
        alias="installIngressController",
        description="Install ingress-nginx at a pinned chart version; false: an existing controller serves "
        "ingressClass.",
    )
    ingress_allowed_cidrs: tuple[str, ...] = Field(
        (),
        alias="ingressAllowedCidrs",
        description="Source ranges of the installed controller's load balancer (clinical networks); required "
        "with installIngressController.",
    )
    ingress_namespace: str = Field(
        "ingress-nginx",
        alias="ingressNamespace",
        description="Namespace of the ingress controller (network policies admit traffic only from it).",
    )
    cert_manager_issuer: str | None = Field(
        None,
        alias="certManagerIssuer",
        description="A cert-manager ClusterIssuer for the routes' certificates (tls.mode cert-manager).",
    )
    gpu_node_label: str = Field(
        "nvidia.com/gpu.present=true",
        alias="gpuNodeLabel",
        pattern=r"^[a-z0-9./-]+=[A-Za-z0-9._-]+$",
        description="key=value label of GPU nodes, selected by GPU pods (existing clusters).",
    )
    gpu_model: str | None = Field(
        None, alias="gpuModel", description="GPU model of an existing cluster's GPU nodes (t4, l4, a10g, a100 ...)."
    )
    gpus_per_node: int = Field(1, alias="gpusPerNode", ge=1, le=16, description="GPUs per GPU node (existing).")

    @model_validator(mode="after")
    def _controller_needs_sources(self) -> KubernetesSettings:
        if self.install_ingress_controller and not self.ingress_allowed_cidrs:
            raise ValueError(
                "installIngressController needs ingressAllowedCidrs: the networks allowed to reach the routes "
                "(the hospital's clinical ranges); 0.0.0.0/0 only if the routes are meant for the internet"
            )
        for cidr in (*self.ingress_allowed_cidrs, *self.api_allowed_cidrs):
            ipaddress.ip_network(cidr, strict=True)
        return self

    api_allowed_cidrs: tuple[str, ...] = Field(
        (),
        alias="apiAllowedCidrs",
        description="CIDRs that may reach the EKS/GKE API endpoint; empty: private endpoint only.",
    )


@dataclass(frozen=True)
class GpuNodes:
    """Where GPU pods go: the label their nodes carry, the taint they tolerate, and the card on them."""

    label: tuple[str, str]
    taint_key: str
    model: str
    vram_gb: int
    gpus_per_node: int
    node_type: str | None = None  # the cloud's machine type (EKS/GKE), for cost and review


@dataclass(frozen=True)
class DataEgress:
    """A network range and ports outside the cluster that a system's pods reach (managed data stores)."""

    cidr: str
    ports: Sequence[int]


@dataclass(frozen=True)
class ServiceIdentity:
    """What a service's ServiceAccount needs to act as a cloud identity (IRSA, Workload Identity)."""

    annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    automount_token: bool = False  # cloud identities read a projected token


TlsMode = Literal["secret", "cert-manager"]
