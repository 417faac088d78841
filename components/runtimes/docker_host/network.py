"""Docker networks: a routable edge for the proxy, and internal networks per system."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_docker as docker

NETWORK_LABEL = "clinical.platform/network"


def bridge_network(
    name: str,
    subnet: str,
    *,
    role: Literal["edge", "frontend", "backend", "egress"],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> docker.Network:
    """A user-defined bridge. Only ``edge`` (the proxy's) and ``egress`` networks route off the host."""
    internal = role in ("frontend", "backend")
    labels = {**labels, NETWORK_LABEL: role}
    return docker.Network(
        name,
        name=name,
        driver="bridge",
        internal=internal,
        ipam_configs=[docker.NetworkIpamConfigArgs(subnet=subnet)],
        # Containers on different user networks cannot reach each other; within one, only by name.
        options={"com.docker.network.bridge.enable_ip_masquerade": "false" if internal else "true"},
        labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        opts=pulumi.ResourceOptions(parent=parent),
    )
