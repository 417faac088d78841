"""ingress-nginx installed by the stack at a pinned chart version, when the cluster has no controller of its own."""

from __future__ import annotations

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import KubernetesSettings

CHART = "ingress-nginx"
CHART_VERSION = "4.12.1"  # controller v1.12.1
CHART_REPOSITORY = "https://kubernetes.github.io/ingress-nginx"
# The controller binds 80/443 with NET_BIND_SERVICE and privilege escalation (its chart's default), which the
# restricted profile refuses: its own namespace enforces baseline; every system namespace stays restricted.
CONTROLLER_PSA = {f"pod-security.kubernetes.io/{mode}": "baseline" for mode in ("enforce", "audit", "warn")}


def controller_values(settings: KubernetesSettings) -> dict[str, Any]:
    """Chart values: TLS 1.2+, HSTS, no snippets, source ranges on the load balancer, two replicas."""
    return {
        "controller": {
            "ingressClassResource": {"name": settings.ingress_class, "default": False},
            "ingressClass": settings.ingress_class,
            "replicaCount": 2,
            "allowSnippetAnnotations": False,  # CVE-2021-25742 class: no raw nginx from Ingress annotations
            "config": {
                "ssl-protocols": "TLSv1.2 TLSv1.3",
                "hsts": "true",
                "hsts-include-subdomains": "true",
                "server-tokens": "false",
                "use-forwarded-headers": "false",
                "annotations-risk-level": "Critical",
            },
            "service": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "loadBalancerSourceRanges": list(settings.ingress_allowed_cidrs),
            },
            "metrics": {"enabled": True},
            "admissionWebhooks": {"enabled": True},
        }
    }


def install_controller(
    name: str,
    settings: KubernetesSettings,
    provider: pulumi.ProviderResource,
    after: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> k8s.helm.v3.Release:
    """The controller's namespace (baseline) and its Helm release, awaited until ready."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=after)
    namespace = k8s.core.v1.Namespace(
        f"{name}-ingress-namespace",
        metadata=cast(Any, {"name": settings.ingress_namespace, "labels": CONTROLLER_PSA}),
        opts=opts,
    )
    return k8s.helm.v3.Release(
        f"{name}-ingress-nginx",
        chart=CHART,
        version=CHART_VERSION,
        repository_opts=cast(Any, {"repo": CHART_REPOSITORY}),
        namespace=namespace.metadata.name,
        values=controller_values(settings),
        atomic=True,
        timeout=900,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[namespace]),
    )
