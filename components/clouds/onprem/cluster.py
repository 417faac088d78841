"""``OnpremClusterCloud``: a hospital's existing Kubernetes cluster, reached with the stack's kubeconfig."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import GpuNodes, KubernetesSettings
from components.gpu_catalog import GPU_MODELS, NoMachineFitsError, needs
from components.pki import PrivateCertificateAuthority, TlsSource
from components.platform import StackSettings
from components.specs import ServiceSpec, SystemSpec


class OnpremClusterCloud:
    """An existing cluster: its provider (from the secret kubeconfig), the stack's CA and the GPU nodes it has.

    Nothing is created outside the cluster: data stores run in each
    system's namespace (``system`` returns None). The routes' certificate is
    the hospital's (tls.mode provided), cert-manager's, or for local stacks
    one issued by the stack's CA.
    """

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        if stack.kubeconfig is None or stack.kubernetes is None:
            raise TypeError("OnpremClusterCloud needs a kubeconfig and kubernetes settings")  # StackConfig checks
        self.settings: KubernetesSettings = stack.kubernetes
        child = pulumi.ResourceOptions(parent=parent)
        self.provider: pulumi.ProviderResource = k8s.Provider(
            f"{name}-cluster",
            kubeconfig=stack.kubeconfig,
            delete_unreachable=False,
            opts=child,
        )
        self.ca = PrivateCertificateAuthority(f"{name}-ca", f"Clinical platform CA ({stack.domain})", opts=child)
        tls = stack.tls
        if tls.certificate_pem and tls.private_key_pem is not None:
            self.ingress_tls = tls
        elif self.settings.cert_manager_issuer:
            self.ingress_tls = TlsSource()
        else:
            issued = self.ca.issue(f"{name}-routes", [stack.domain, f"*.{stack.domain}"])
            self.ingress_tls = TlsSource(certificate_pem=issued.certificate_pem, private_key_pem=issued.private_key_pem)
        self.cluster_ready: list[pulumi.Resource] = []

    def gpu_nodes(self, services: Sequence[ServiceSpec]) -> GpuNodes:
        """The cluster's GPU nodes as configured; every GPU pod must fit one node's cards."""
        model = self.settings.gpu_model
        _, _, gpu = needs(services)
        if model is None or gpu is None:
            raise NoMachineFitsError("the cluster's GPU nodes are not described; set kubernetes.gpuModel")
        key, _, value = self.settings.gpu_node_label.partition("=")
        return GpuNodes(
            label=(key, value),
            taint_key="nvidia.com/gpu",
            model=model,
            vram_gb=GPU_MODELS.get(model, 0),
            gpus_per_node=self.settings.gpus_per_node,
        )

    def system(self, spec: SystemSpec, namespace: str) -> None:
        """Data stores run inside the cluster."""
        return None

    def finish(self) -> None:
        """Nothing is shared after the systems."""

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """The hospital's cluster: no machine is chosen."""
        return {}

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """Nothing beyond the CA certificate the runtime exports."""
        return {}
