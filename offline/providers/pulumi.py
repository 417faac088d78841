"""Explicit provider resources (``pulumi:providers:<package>``): a provider configured by the program.

A stack on EKS or GKE points a ``kubernetes.Provider`` at the cluster it
creates (its kubeconfig from the cluster's endpoint and CA). The engine
registers that as a custom resource of its own, with nothing to create,
price or compute.
"""

from __future__ import annotations

from offline.providers.profile import Free, Provider, ResourceProfile, no_outputs

RESOURCES: dict[str, ResourceProfile] = {
    "pulumi:providers:kubernetes": ResourceProfile(
        kind="supporting",
        create_seconds=1.0,
        price=Free("a provider configuration: nothing is created"),
        outputs=no_outputs,
    ),
}

PROVIDER = Provider(name="pulumi", resources=RESOURCES, invokes={})
