"""A namespace's network policies: deny everything, then allow exactly the edges the system uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import DataEgress
from components.runtimes.kubernetes.pod import SERVICE_LABEL, SYSTEM_LABEL
from components.runtimes.kubernetes.traffic import Peer

# Internet egress never reaches private ranges or the instance metadata service.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _pods(system: str, service: str) -> dict[str, Any]:
    return {"pod_selector": {"match_labels": {SYSTEM_LABEL: system, SERVICE_LABEL: service}}}


def namespace_policies(
    name: str,
    *,
    system: str,
    namespace: pulumi.Input[str],
    peers: Mapping[str, set[Peer]],
    routed: Mapping[str, Sequence[int]],
    ingress_namespace: str,
    internet: Sequence[str],
    data_egress: Mapping[str, Sequence[DataEgress]],
    opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny (ingress and egress), DNS for all, then per service its inbound and outbound edges."""

    def policy(suffix: str, spec: dict[str, Any]) -> k8s.networking.v1.NetworkPolicy:
        return k8s.networking.v1.NetworkPolicy(
            f"{name}-{suffix}",
            metadata=cast(Any, {"name": suffix, "namespace": namespace, "labels": {SYSTEM_LABEL: system}}),
            spec=cast(Any, spec),
            opts=opts,
        )

    made = [
        policy("default-deny", {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}),
        policy(
            "allow-dns",
            {
                "pod_selector": {},
                "policy_types": ["Egress"],
                "egress": [
                    {
                        "to": [{"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: "kube-system"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
    ]
    inbound: dict[Peer, set[str]] = {}
    for source, targets in peers.items():
        for peer in targets:
            inbound.setdefault(peer, set()).add(source)
    for peer in sorted(inbound, key=lambda p: (p.service, p.port)):
        made.append(
            policy(
                f"{peer.service}-from-peers-{peer.port}",
                {
                    **_pods(system, peer.service),
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from": [_pods(system, src) for src in sorted(inbound[peer])],
                            "ports": [{"protocol": "TCP", "port": peer.port}],
                        }
                    ],
                },
            )
        )
    for service, ports in sorted(routed.items()):
        made.append(
            policy(
                f"{service}-from-ingress",
                {
                    **_pods(system, service),
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: ingress_namespace}}}
                            ],
                            "ports": [{"protocol": "TCP", "port": p} for p in sorted(set(ports))],
                        }
                    ],
                },
            )
        )
    for service in sorted(peers):
        rules: list[dict[str, Any]] = [
            {"to": [_pods(system, p.service)], "ports": [{"protocol": "TCP", "port": p.port}]}
            for p in sorted(peers[service], key=lambda p: (p.service, p.port))
        ]
        rules += [
            {"to": [{"ip_block": {"cidr": d.cidr}}], "ports": [{"protocol": "TCP", "port": port} for port in d.ports]}
            for d in data_egress.get(service, ())
        ]
        if service in internet:
            rules.append({"to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}]})
        if rules:
            made.append(
                policy(
                    f"{service}-egress",
                    {**_pods(system, service), "policy_types": ["Egress"], "egress": rules},
                )
            )
    return made
