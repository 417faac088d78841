"""ingress-nginx installed by the stack at a pinned chart version, when the cluster has no controller of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import KubernetesSettings
from components.runtimes.kubernetes.pod import SYSTEM_LABEL

CHART = "ingress-nginx"
CHART_VERSION = "4.12.1"  # controller v1.12.1
CHART_REPOSITORY = "https://kubernetes.github.io/ingress-nginx"
# The controller binds 80/443 with NET_BIND_SERVICE and privilege escalation (its chart's default), which the
# restricted profile refuses: its own namespace enforces baseline (and audits and warns at restricted, so the
# gap stays visible); every system namespace enforces restricted.
CONTROLLER_PSA = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
# The controller's own flows: clients on 80/443, the API server to its admission webhook (8443), metrics.
CONTROLLER_PORTS = (80, 443, 8443, 10254)


def controller_values(settings: KubernetesSettings, allowed_source_cidrs: Sequence[str] = ()) -> dict[str, Any]:
    """Chart values: TLS 1.2+, HSTS, no snippets, source ranges on the load balancer (``ingressAllowedCidrs``,
    else the stack's ``allowedSourceCidrs``), 429 for a request over a route's limit, two replicas."""
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
                "limit-req-status-code": "429",
            },
            "service": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "loadBalancerSourceRanges": list(settings.ingress_allowed_cidrs or allowed_source_cidrs),
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
    allowed_source_cidrs: Sequence[str] = (),
) -> k8s.helm.v3.Release:
    """The controller's namespace (baseline) and its Helm release, awaited until ready."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=after)
    namespace = k8s.core.v1.Namespace(
        f"{name}-ingress-namespace",
        metadata=cast(Any, {"name": settings.ingress_namespace, "labels": CONTROLLER_PSA}),
        opts=opts,
    )
    inside = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[namespace])
    ns = namespace.metadata.name
    for suffix, spec in (
        ("default-deny", {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}),
        (
            "allow-controller",
            {
                "pod_selector": {},
                "policy_types": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": p} for p in CONTROLLER_PORTS]}],
                # To the systems' namespaces (their own policies admit only routed pods), cluster DNS and the
                # API server.
                "egress": [
                    {
                        "to": [
                            {"namespace_selector": {"match_expressions": [{"key": SYSTEM_LABEL, "operator": "Exists"}]}}
                        ]
                    },
                    {
                        "to": [
                            {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}}}
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                    {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
                ],
            },
        ),
    ):
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress-{suffix}",
            metadata=cast(Any, {"name": suffix, "namespace": ns}),
            spec=cast(Any, spec),
            opts=inside,
        )
    return k8s.helm.v3.Release(
        f"{name}-ingress-nginx",
        chart=CHART,
        version=CHART_VERSION,
        repository_opts=cast(Any, {"repo": CHART_REPOSITORY}),
        namespace=namespace.metadata.name,
        values=controller_values(settings, allowed_source_cidrs),
        atomic=True,
        timeout=900,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[namespace]),
    )
