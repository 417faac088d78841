"""What the ``kubernetes`` runtime needs from a cloud: a cluster, GPU nodes and (on clouds) managed data stores.

Any cloud offering ``ClusterCloud`` gets the same runtime: an existing
cluster on premises (data stores then run in the cluster), EKS or GKE (data
stores are the cloud's managed services, reached over ``DataEgress``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pulumi

from components.cluster import DataEgress, GpuNodes, KubernetesSettings, ServiceIdentity
from components.endpoints import SystemRefs
from components.pki import PrivateCertificateAuthority, TlsSource
from components.specs import ServiceSpec, SystemSpec


class ClusterSystem(Protocol):
    """One system's share of a cluster cloud: its managed data stores and its services' cloud identities."""

    @property
    def resource(self) -> pulumi.Resource:
        """The component that groups the system's cloud resources."""
        ...

    def add_data_stores(self, spec: SystemSpec, refs: SystemRefs) -> list[pulumi.Resource]:
        """Create the managed PostgreSQL, Redis and buckets of ``spec``; fill ``refs`` with their endpoints."""
        ...

    def data_egress(self) -> Sequence[DataEgress]:
        """Where the system's pods must reach its managed data stores (network policy egress)."""
        ...

    def identity(self, service: ServiceSpec) -> ServiceIdentity:
        """The cloud identity of ``service``'s ServiceAccount (IRSA / Workload Identity where it uses a bucket)."""
        ...


class ClusterCloud(Protocol):
    """A cloud that gives the runtime a Kubernetes cluster (existing on premises, EKS, GKE)."""

    provider: pulumi.ProviderResource  # the kubernetes provider bound to the cluster
    settings: KubernetesSettings
    ca: PrivateCertificateAuthority  # the stack's private CA: in-cluster data stores' certificates
    ingress_tls: TlsSource  # the routes' certificate, unless cert-manager issues it
    # Resources every workload waits for (node pools, the ingress controller, CNI add-ons).
    cluster_ready: Sequence[pulumi.Resource]

    def gpu_nodes(self, services: Sequence[ServiceSpec]) -> GpuNodes:
        """The GPU nodes that fit every GPU service of a system (raises ``NoMachineFitsError``)."""
        ...

    def system(self, spec: SystemSpec, namespace: str) -> ClusterSystem | None:
        """The system's managed data stores and identities, or None when they run inside the cluster."""
        ...

    def finish(self) -> None: ...

    def machine_choices(self) -> dict[str, dict[str, object]]: ...

    def outputs(self) -> dict[str, pulumi.Input[str]]: ...
