"""The Kubernetes provider (pulumi-kubernetes): the objects a stack on EKS or GKE registers.

Objects run on the cluster's nodes, which are priced on the node group or
node pool (``aws.py``, ``gcp.py``), so they cost nothing of their own; a
LoadBalancer Service adds the cloud's load balancer. Creation times follow
pulumi-kubernetes' await logic: an object without status (a ConfigMap, a
Role) is written at once, a workload waits for its pods to be ready, a Job
for completion, a LoadBalancer Service for its address; DEFAULT_SECONDS
marks a type nobody has timed.

Mock outputs are what the API server fills in: the provider's auto-name
(``<name>-<8 characters>``) when ``metadata.name`` is unset, the ``default``
namespace, a uid, a Service's cluster IP and load balancer address, a Helm
release's status.

Every type has its kind, creation time, price and outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from offline.providers.profile import (
    DEFAULT_SECONDS,
    HOURS_PER_MONTH,
    Free,
    Kind,
    Provider,
    ResourceProfile,
    digest,
)

ON_NODES = Free("runs on the cluster's nodes, priced on the node group or node pool")
API_OBJECT = Free("an API object: no charge")
LOAD_BALANCER_USD_PER_HOUR = 0.025  # a GKE forwarding rule; an AWS Network Load Balancer is 0.0225/h


def _metadata(name: str, inputs: Mapping[str, Any], namespaced: bool) -> dict[str, Any]:
    metadata = {k: v for k, v in dict(inputs.get("metadata") or {}).items() if v is not None}
    metadata.setdefault("name", f"{name}-{digest(name, 8)}")
    if namespaced:
        metadata.setdefault("namespace", "default")
    seed = digest(f"{name}-uid", 32)
    metadata["uid"] = f"{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}"
    return metadata


def _object(
    namespaced: bool = True, more: Callable[[str, Mapping[str, Any]], dict[str, Any]] | None = None
) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    """Outputs of an object: its completed metadata, plus ``more`` (the status the API server adds)."""

    def outputs(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"metadata": _metadata(name, inputs, namespaced)}
        if more is not None:
            out.update(more(name, inputs))
        return out

    return outputs


def _service(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    spec = dict(inputs.get("spec") or {})
    octet = int(digest(name, 2), 16) % 250
    spec.setdefault("clusterIP", f"10.96.{octet}.{octet % 200 + 10}")
    out: dict[str, Any] = {"spec": spec}
    if spec.get("type") == "LoadBalancer":
        out["status"] = {"loadBalancer": {"ingress": [{"ip": f"34.{octet % 200}.40.{octet % 250 + 1}"}]}}
    return out


def _release(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    release = str(inputs.get("name") or f"{name}-{digest(name, 8)}")
    return {
        "name": release,
        "status": {
            "name": release,
            "namespace": inputs.get("namespace") or "default",
            "chart": inputs.get("chart"),
            "version": inputs.get("version"),
            "revision": 1,
            "status": "deployed",
        },
    }


def service_price(inputs: Mapping[str, Any]) -> tuple[float, str]:
    """A LoadBalancer Service creates the cloud's load balancer; other Services cost nothing."""
    kind = str((inputs.get("spec") or {}).get("type") or "ClusterIP")
    if kind != "LoadBalancer":
        return 0.0, f"{kind}: no charge"
    return (
        LOAD_BALANCER_USD_PER_HOUR * HOURS_PER_MONTH,
        f"the cloud's load balancer, about {LOAD_BALANCER_USD_PER_HOUR}/h + data (usage)",
    )


def _profile(kind: Kind, seconds: float, price: Any = ON_NODES, outputs: Any = None) -> ResourceProfile:
    return ResourceProfile(kind=kind, create_seconds=seconds, price=price, outputs=outputs or _object())


RESOURCES: dict[str, ResourceProfile] = {
    # pulumi-kubernetes waits for a rollout (image pull, probes) and for a StatefulSet's pods one by one.
    "kubernetes:apps/v1:Deployment": _profile("workload", 45.0),
    "kubernetes:apps/v1:StatefulSet": _profile("workload", 60.0),
    "kubernetes:core/v1:PersistentVolumeClaim": _profile("storage", 1.0, Free("priced by the cluster's storage")),
    "kubernetes:core/v1:Secret": _profile("secret", 1.0, API_OBJECT),
    "kubernetes:networking.k8s.io/v1:Ingress": _profile("ingress", 1.0, API_OBJECT),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": _profile("firewall", 1.0, API_OBJECT),
    # Workloads: every other type that makes pods
    "kubernetes:apps/v1:DaemonSet": _profile("workload", 60.0),  # a pod on every node
    "kubernetes:apps/v1:ReplicaSet": _profile("workload", 30.0),
    "kubernetes:core/v1:ReplicationController": _profile("workload", 30.0),
    "kubernetes:batch/v1:Job": _profile("workload", 60.0),  # pulumi waits for the Job to complete
    "kubernetes:batch/v1:CronJob": _profile("workload", 1.0),  # its Jobs run later
    "kubernetes:core/v1:Pod": _profile("workload", 30.0),
    # A Helm release renders its chart inside the provider: the pack sees none of the objects it creates.
    "kubernetes:helm.sh/v3:Release": _profile("workload", 120.0, outputs=_release),
    # Isolation, identity and exposure
    "kubernetes:core/v1:Namespace": _profile("network", 1.0, API_OBJECT, _object(namespaced=False)),
    "kubernetes:core/v1:ServiceAccount": _profile("identity", 1.0, API_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:Role": _profile("identity", 1.0, API_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": _profile("identity", 1.0, API_OBJECT),
    "kubernetes:core/v1:Service": _profile("network", DEFAULT_SECONDS, service_price, _object(more=_service)),
    "kubernetes:storage.k8s.io/v1:StorageClass": _profile("storage", 1.0, API_OBJECT, _object(namespaced=False)),
    "kubernetes:networking.k8s.io/v1:IngressClass": _profile("supporting", 1.0, API_OBJECT, _object(namespaced=False)),
    # Settings of the workloads they belong to
    "kubernetes:core/v1:ConfigMap": _profile("supporting", 1.0, API_OBJECT),
    "kubernetes:policy/v1:PodDisruptionBudget": _profile("supporting", 1.0, API_OBJECT),
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": _profile("supporting", 1.0, API_OBJECT),
}

PROVIDER = Provider(name="kubernetes", resources=RESOURCES, invokes={})
