"""The Kubernetes provider (pulumi-kubernetes): planned, no stack registers it yet.

Only the kinds are known, for rule coverage; a stack that registers one of
these types fails the provider profile test until its creation time,
price and mock outputs are filled in here.
"""

from __future__ import annotations

from offline.providers.profile import Provider, ResourceProfile, planned

RESOURCES: dict[str, ResourceProfile] = {
    "kubernetes:apps/v1:Deployment": planned("workload"),
    "kubernetes:apps/v1:StatefulSet": planned("workload"),
    "kubernetes:core/v1:PersistentVolumeClaim": planned("storage"),
    "kubernetes:core/v1:Secret": planned("secret"),
    "kubernetes:networking.k8s.io/v1:Ingress": planned("ingress"),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": planned("firewall"),
}

PROVIDER = Provider(name="kubernetes", resources=RESOURCES, invokes={})
