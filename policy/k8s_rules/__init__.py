"""Rules for Kubernetes workloads and the managed clusters (EKS, GKE) they run on.

One module per concern: ``workloads`` (every pod-bearing type's pod spec,
held to the restricted Pod Security Standard, plus images, limits, secrets
in env and service account tokens), ``network`` (Services, Ingresses,
Namespaces and the stack rule that wants a default-deny NetworkPolicy in
each namespace), ``objects`` (namespaces of every object, storage classes), ``eks`` and ``gke`` (control plane and nodes); ``tokens``
holds the type tokens they judge and ``common`` how they read a pod spec.
Checks read the inputs as the engine sees them (camelCase, the Kubernetes
API's own field names) and a missing value as the default Kubernetes or the
provider applies. This module only lists the rules in the catalogue's
order, by family. ``docs/policy-kubernetes.md`` compares them with
checkov's Kubernetes checks and the Pod Security Standards.
"""

from __future__ import annotations

from policy.k8s_rules import eks, gke, network, objects, workloads
from policy.rule import Rule, StackRule

RULES: list[Rule] = [
    # TLS in transit
    network.INGRESS_TLS,
    network.INGRESS_BACKEND_TLS,
    # Encryption at rest
    eks.SECRETS_ENCRYPTED,
    gke.SECRETS_ENCRYPTED,
    # Firewall and exposure
    workloads.NO_HOST_PORTS,
    network.NO_EXPOSED_DATA_PORT,
    network.LOAD_BALANCER_SOURCE_RANGES,
    eks.ENDPOINT_RESTRICTED,
    eks.NODE_GROUP_NO_REMOTE_SSH,
    gke.ENDPOINT_RESTRICTED,
    gke.NETWORK_POLICY,
    gke.PRIVATE_NODES,
    # Workload hardening
    workloads.NO_PRIVILEGED,
    workloads.NO_HOST_NAMESPACES,
    workloads.VOLUME_TYPES,
    workloads.NON_ROOT,
    workloads.NO_PRIVILEGE_ESCALATION,
    workloads.CAPABILITIES,
    workloads.SECCOMP,
    workloads.READ_ONLY_ROOT,
    workloads.IMAGE_PINNED,
    workloads.RESOURCE_LIMITS,
    workloads.POD_TOKEN,
    workloads.SERVICE_ACCOUNT_TOKEN,
    network.NAMESPACE_RESTRICTED,
    eks.NODE_GROUP_LAUNCH_TEMPLATE,
    gke.NO_LEGACY_AUTH,
    gke.NODE_METADATA,
    gke.SHIELDED_NODES,
    gke.WORKLOAD_IDENTITY,
    # Secrets
    workloads.NO_LITERAL_SECRET_ENV,
    # Audit and logging
    network.NAMESPACE_AUDIT_WARN,
    eks.CONTROL_PLANE_LOGGING,
    gke.LOGGING,
    objects.NAMESPACED_OBJECTS,
    objects.STORAGE_CLASS_ENCRYPTED,
    workloads.PROBES,
    gke.NODE_SERVICE_ACCOUNT,
]

STACK_RULES: list[StackRule] = [
    network.NAMESPACE_DEFAULT_DENY,
    eks.NETWORK_POLICY,
]
