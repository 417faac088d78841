"""The Kubernetes, EKS and GKE type tokens the rules judge, exactly as the installed SDKs register them.

Kubernetes tokens are pulumi-kubernetes 4.34's (``kubernetes:<group>/<version>:<Kind>``);
EKS and GKE tokens are pulumi-aws 7's and pulumi-gcp 10's, with their own casing
(``aws:eks/nodeGroup:NodeGroup``, ``gcp:container/nodePool:NodePool``).
"""

from __future__ import annotations

# Workloads: everything that carries a pod template (or is a pod)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"

# Identity, exposure and isolation
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

# Configuration and storage
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"

# Managed clusters
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_ADDON = "aws:eks/addon:Addon"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"

# Where each pod-bearing type keeps its pod spec (the pod template's ``spec``, or the pod's own).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template", "spec"),
    STATEFUL_SET: ("spec", "template", "spec"),
    DAEMON_SET: ("spec", "template", "spec"),
    REPLICA_SET: ("spec", "template", "spec"),
    REPLICATION_CONTROLLER: ("spec", "template", "spec"),
    JOB: ("spec", "template", "spec"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
    POD: ("spec",),
}
WORKLOADS = tuple(POD_SPEC_PATHS)
# Namespaced objects the platform creates (and the other workload kinds): each belongs in a namespace of its own.
NAMESPACED = (*WORKLOADS, SERVICE_ACCOUNT, SERVICE, INGRESS, NETWORK_POLICY, CONFIG_MAP, SECRET, PVC)
# Workloads whose pods serve for as long as they run (a Job's pods run to completion; checkov asks them no probes).
LONG_RUNNING = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, REPLICATION_CONTROLLER)
GKE_NODES = (GKE_CLUSTER, GKE_NODE_POOL)
