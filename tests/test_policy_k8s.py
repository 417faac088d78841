"""Every Kubernetes, EKS and GKE rule on compliant and violating resources, and a hardened cluster program.

Each case runs through the ``pulumi_policy`` object the engine runs, with
the engine's camelCase input shapes (the Kubernetes API's own field
names), in a prod stack. The hardened pod spec is what a runtime enforcing
the restricted Pod Security Standard generates; it passes every rule on
every pod-bearing type. The last tests register real ``pulumi_kubernetes``,
``pulumi_aws`` and ``pulumi_gcp`` resources (snake_case, as a program
writes them) under the mock runtime, so the property names the rules read
are the SDKs', and check that a weakened copy of each fails with the right
rule.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy import PolicyResource as EnginePolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from offline.harness import run_under_mocks
from offline.providers import missing, profile_for
from offline.review import enforcement_for, review
from policy import ALL_POLICIES, RULE_NAMES, RULES, STACK_RULES, aws_rules, gcp_rules, k8s_rules
from policy.k8s_rules import tokens as t
from policy.k8s_rules.workloads import secret_named
from policy.rule import HIPAA

POLICIES = {p.name: p for p in ALL_POLICIES}
K8S_RULES = [*k8s_rules.RULES, *k8s_rules.STACK_RULES]
PREFIXES = ("k8s-", "eks-", "gke-")
DROP = object()  # a value for ``changed`` that removes the key

IMAGE = "ghcr.io/clinical/stenosis-api:1.4.2"
DIGEST = "ghcr.io/clinical/stenosis-api@sha256:" + "a" * 64
KEY_ARN = "arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8899-aabbccddeeff"
GKE_KEY = "projects/clinical/locations/europe-west2/keyRings/clinical/cryptoKeys/gke-secrets"
SA = "gke-nodes@clinical.iam.gserviceaccount.com"


def violations(rule: str, resource_type: str, props: Any, environment: str = "prod") -> list[str]:
    """Run one resource policy the way Analyze calls it, with the stack's environment in its config."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    args = ResourceValidationArgs(
        resource_type, unknown_checking_proxy(props), "urn:x", "res", opts, None, config={"environment": environment}
    )
    found: list[str] = []
    validate: Any = POLICIES[rule].validate
    validate(args, lambda message, urn=None: found.append(message))
    return found


def apply(node: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """Set dotted paths (``securityContext__runAsUser``) in ``node``, or remove them with DROP."""
    for path, value in paths.items():
        *parents, leaf = path.split("__")
        here = node
        for key in parents:
            here = here.setdefault(key, {})
        if value is DROP:
            here.pop(leaf, None)
        else:
            here[leaf] = value
    return node


def changed(base: dict[str, Any], **paths: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with dotted paths set or removed."""
    return apply(copy.deepcopy(base), paths)


# --- the hardened pod spec: what a restricted-PSS runtime generates ----------------------------------------------------


def hardened_container(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "ports": [{"containerPort": 8000.0, "name": "http", "protocol": "TCP"}],
        "env": [
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "stenosis-db", "key": "password"}}},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "TOKEN_TTL", "value": "3600"},
            {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/db/password"},
        ],
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "1Gi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


POD_SPEC: dict[str, Any] = {
    "serviceAccountName": "stenosis-api",
    "automountServiceAccountToken": False,
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001.0,
        "runAsGroup": 10001.0,
        "fsGroup": 10001.0,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "initContainers": [hardened_container("migrate")],
    # Probes on the long-running container only: the API server refuses them on init containers.
    "containers": [
        {
            **hardened_container("app"),
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20.0},
        }
    ],
    "volumes": [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
        {"name": "config", "configMap": {"name": "stenosis-api"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "stenosis-data"}},
    ],
}
META = {"name": "stenosis-api", "namespace": "stenosis", "labels": {"app": "stenosis-api"}}


def pod(container: dict[str, Any] | None = None, init: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The hardened pod spec with pod-level ``changes`` and changes to its app (``container``) or init container."""
    spec = changed(POD_SPEC, **changes)
    apply(spec["containers"][0], container or {})
    apply(spec["initContainers"][0], init or {})
    return spec


def workload(kind: str, spec: dict[str, Any] | None = None, template_annotations: dict[str, str] | None = None) -> Any:
    """A resource of ``kind`` carrying ``spec`` (the hardened pod spec by default) where that type keeps it."""
    spec = copy.deepcopy(POD_SPEC if spec is None else spec)
    template_meta: dict[str, Any] = {"labels": {"app": "stenosis-api"}}
    if template_annotations:
        template_meta["annotations"] = template_annotations
    template = {"metadata": template_meta, "spec": spec}
    if kind == t.POD:
        return {
            "metadata": {**META, **({"annotations": template_annotations} if template_annotations else {})},
            "spec": spec,
        }
    if kind == t.CRON_JOB:
        return {"metadata": META, "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": template}}}}
    if kind == t.JOB:
        return {"metadata": META, "spec": {"backoffLimit": 2.0, "template": template}}
    return {"metadata": META, "spec": {"selector": {"matchLabels": {"app": "stenosis-api"}}, "template": template}}


# --- other compliant resources ------------------------------------------------------------------------------------------

NAMESPACE: dict[str, Any] = {
    "metadata": {
        "name": "stenosis",
        "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    }
}
SERVICE_ACCOUNT: dict[str, Any] = {
    "metadata": {"name": "stenosis-api", "namespace": "stenosis"},
    "automountServiceAccountToken": False,
}
SERVICE: dict[str, Any] = {
    "metadata": {"name": "stenosis-api", "namespace": "stenosis"},
    "spec": {
        "type": "ClusterIP",
        "selector": {"app": "stenosis-api"},
        "ports": [{"port": 443.0, "targetPort": 8000.0}],
    },
}
DB_SERVICE: dict[str, Any] = {
    "metadata": {"name": "stenosis-db", "namespace": "stenosis"},
    "spec": {"selector": {"app": "postgres"}, "ports": [{"port": 5432.0, "targetPort": 5432.0}]},
}
LOAD_BALANCER: dict[str, Any] = {
    "metadata": {"name": "gateway", "namespace": "ingress"},
    "spec": {
        "type": "LoadBalancer",
        "ports": [{"port": 443.0, "targetPort": "https"}],
        "loadBalancerSourceRanges": ["192.0.2.0/24", "198.51.100.0/24"],
    },
}
BACKEND_TLS = {  # HTTPS to the pod's TLS sidecar, verified against the namespace's CA Secret
    "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
    "nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret": "stenosis/backend-ca",
    "nginx.ingress.kubernetes.io/proxy-ssl-name": "stenosis-api.stenosis.svc",
}
INGRESS: dict[str, Any] = {
    "metadata": {"name": "stenosis", "namespace": "stenosis", "annotations": dict(BACKEND_TLS)},
    "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["stenosis.clinical.example.org"], "secretName": "stenosis-tls"}],
        "rules": [
            {
                "host": "stenosis.clinical.example.org",
                "http": {
                    "paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "stenosis-api"}}}]
                },
            }
        ],
    },
}
EKS_CLUSTER: dict[str, Any] = {
    "name": "clinical",
    "roleArn": "arn:aws:iam::123456789012:role/clinical-eks",
    "version": "1.33",
    "vpcConfig": {
        "subnetIds": ["subnet-0a", "subnet-0b"],
        "endpointPublicAccess": False,
        "endpointPrivateAccess": True,
    },
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "accessConfig": {"authenticationMode": "API"},
}
EKS_NODE_GROUP: dict[str, Any] = {
    "clusterName": "clinical",
    "nodeRoleArn": "arn:aws:iam::123456789012:role/clinical-nodes",
    "subnetIds": ["subnet-0a", "subnet-0b"],
    "scalingConfig": {"desiredSize": 2.0, "maxSize": 4.0, "minSize": 1.0},
    "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "3"},
}
NODE_CONFIG: dict[str, Any] = {
    "machineType": "e2-standard-4",
    "serviceAccount": SA,
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "metadata": {"disable-legacy-endpoints": "true"},
}
GKE_CLUSTER: dict[str, Any] = {
    "name": "clinical",
    "location": "europe-west2",
    "removeDefaultNodePool": True,
    "initialNodeCount": 1.0,
    "privateClusterConfig": {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    },
    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.0.0.0/8", "displayName": "vpc"}]},
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": GKE_KEY},
    "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]},
    "workloadIdentityConfig": {"workloadPool": "clinical.svc.id.goog"},
    "datapathProvider": "ADVANCED_DATAPATH",
    "enableShieldedNodes": True,
    "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
    "releaseChannel": {"channel": "REGULAR"},
}
GKE_NODE_POOL: dict[str, Any] = {
    "cluster": "clinical",
    "location": "europe-west2",
    "nodeCount": 1.0,
    "nodeConfig": NODE_CONFIG,
    "networkConfig": {"enablePrivateNodes": True},
}
PUBLIC_GKE = changed(GKE_CLUSTER, privateClusterConfig__enablePrivateEndpoint=False)

DEPLOYMENT = workload(t.DEPLOYMENT)

Case = tuple[str, str, Any, Any, tuple[str, ...]]
CASES: list[Case] = [
    # (rule, type, compliant, non-compliant, texts one message holds); judged in a prod stack
    # privileged and weakened isolation (baseline)
    (
        "k8s-no-privileged",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"securityContext__privileged": True})),
        ("container 'app' runs privileged (securityContext.privileged: true)", "remove privileged"),
    ),
    (
        "k8s-no-privileged",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET, pod(init={"securityContext__privileged": False})),
        workload(t.STATEFUL_SET, pod(init={"securityContext__windowsOptions": {"hostProcess": True}})),
        ("init container 'migrate' is a Windows HostProcess container", "remove windowsOptions.hostProcess"),
    ),
    (
        "k8s-no-privileged",
        t.POD,
        workload(t.POD, pod(container={"securityContext__procMount": "Default"})),
        workload(t.POD, pod(container={"securityContext__procMount": "Unmasked"})),
        ("container 'app' unmasks /proc (procMount Unmasked)", "remove procMount"),
    ),
    (
        "k8s-no-privileged",
        t.JOB,
        workload(t.JOB, pod(securityContext__appArmorProfile={"type": "RuntimeDefault"})),
        workload(t.JOB, pod(securityContext__appArmorProfile={"type": "Unconfined"})),
        ("container 'app' runs without AppArmor (Unconfined)", "use RuntimeDefault"),
    ),
    (
        "k8s-no-privileged",
        t.DEPLOYMENT,
        workload(
            t.DEPLOYMENT, template_annotations={"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}
        ),
        workload(
            t.DEPLOYMENT, template_annotations={"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
        ),
        ("container 'app' runs without AppArmor",),
    ),
    (
        "k8s-no-privileged",
        t.CRON_JOB,
        workload(t.CRON_JOB, pod(securityContext__seLinuxOptions={"level": "s0:c123,c456"})),
        workload(t.CRON_JOB, pod(container={"securityContext__seLinuxOptions": {"type": "spc_t"}})),
        ("container 'app' picks its own SELinux user, role or type", "leave seLinuxOptions to the runtime"),
    ),
    (
        "k8s-no-privileged",
        t.DAEMON_SET,
        workload(
            t.DAEMON_SET, pod(securityContext__sysctls=[{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}])
        ),
        workload(t.DAEMON_SET, pod(securityContext__sysctls=[{"name": "kernel.msgmax", "value": "65536"}])),
        ("sets node-wide or unsafe sysctls ['kernel.msgmax']",),
    ),
    # running as root (restricted)
    (
        "k8s-non-root",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(securityContext__runAsUser=0.0)),
        ("runs its pod as root (securityContext.runAsUser: 0)", "non-zero uid"),
    ),
    (
        "k8s-non-root",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET, pod(container={"securityContext__runAsUser": 10002.0})),
        workload(t.STATEFUL_SET, pod(container={"securityContext__runAsUser": 0})),
        ("container 'app' runs as root (runAsUser: 0)", "set a non-zero uid"),
    ),
    (
        "k8s-non-root",
        t.POD,
        workload(t.POD, pod(container={"securityContext__runAsNonRoot": DROP})),  # inherits the pod's
        workload(
            t.POD,
            pod(
                securityContext__runAsNonRoot=DROP,
                container={"securityContext__runAsNonRoot": DROP},
                init={"securityContext__runAsNonRoot": DROP},
            ),
        ),
        ("container 'app' may run as root (runAsNonRoot is set neither", "set securityContext.runAsNonRoot: true"),
    ),
    (
        "k8s-non-root",
        t.JOB,
        workload(t.JOB, pod(securityContext__runAsNonRoot=DROP)),  # every container sets it
        workload(t.JOB, pod(container={"securityContext__runAsNonRoot": False})),
        ("container 'app' may run as root (runAsNonRoot: false)",),
    ),
    # privilege escalation (restricted)
    (
        "k8s-no-privilege-escalation",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"securityContext__allowPrivilegeEscalation": DROP})),
        (
            "container 'app' can gain more privileges than its parent process",
            "unset, which defaults to true",
            "set securityContext.allowPrivilegeEscalation: false",
        ),
    ),
    (
        "k8s-no-privilege-escalation",
        t.CRON_JOB,
        workload(t.CRON_JOB),
        workload(t.CRON_JOB, pod(init={"securityContext__allowPrivilegeEscalation": True})),
        ("init container 'migrate' can gain more privileges", "(allowPrivilegeEscalation true"),
    ),
    # capabilities (restricted)
    (
        "k8s-capabilities-restricted",
        t.DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"securityContext__capabilities__add": ["NET_BIND_SERVICE"]})),
        workload(t.DEPLOYMENT, pod(container={"securityContext__capabilities__add": ["NET_ADMIN", "SYS_ADMIN"]})),
        ("container 'app' adds capabilities ['NET_ADMIN', 'SYS_ADMIN']", "only NET_BIND_SERVICE is allowed"),
    ),
    (
        "k8s-capabilities-restricted",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET),
        workload(t.STATEFUL_SET, pod(container={"securityContext__capabilities": DROP})),
        ("container 'app' keeps the runtime's default capabilities", "set securityContext.capabilities.drop: [ALL]"),
    ),
    (
        "k8s-capabilities-restricted",
        t.POD,
        workload(t.POD),
        workload(t.POD, pod(init={"securityContext__capabilities__drop": ["NET_RAW"]})),
        ("init container 'migrate' keeps the runtime's default capabilities",),
    ),
    # host namespaces and ports (baseline)
    (
        "k8s-no-host-namespaces",
        t.DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(hostNetwork=False)),
        workload(t.DEPLOYMENT, pod(hostNetwork=True)),
        ("shares the node's network namespace (hostNetwork: true)", "remove hostNetwork"),
    ),
    (
        "k8s-no-host-namespaces",
        t.JOB,
        workload(t.JOB),
        workload(t.JOB, pod(hostPID=True)),
        ("shares the node's process namespace (hostPID: true)",),
    ),
    ("k8s-no-host-namespaces", t.POD, workload(t.POD), workload(t.POD, pod(hostIPC=True)), ("IPC namespace",)),
    (
        "k8s-no-host-ports",
        t.DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"ports": [{"containerPort": 8000.0, "hostPort": 0.0}]})),
        workload(t.DEPLOYMENT, pod(container={"ports": [{"containerPort": 8443.0, "hostPort": 8443.0}]})),
        ("container 'app' listens on the node's own address (hostPort 8443)", "expose it through a Service"),
    ),
    # volumes (baseline hostPath, restricted volume types)
    (
        "k8s-volume-types",
        t.DAEMON_SET,
        workload(
            t.DAEMON_SET,
            pod(
                volumes=[{"name": "ca", "csi": {"driver": "secrets-store.csi.k8s.io"}}, {"name": "t", "projected": {}}]
            ),
        ),
        workload(t.DAEMON_SET, pod(volumes=[{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}])),
        ("volume 'sock' mounts /var/run/docker.sock from the node, which gives root on the node",),
    ),
    (
        "k8s-volume-types",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET),
        workload(
            t.STATEFUL_SET, pod(volumes=[{"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}])
        ),
        ("volume 'logs' mounts /var/log from the node (hostPath)", "use an emptyDir or a PersistentVolumeClaim"),
    ),
    (
        "k8s-volume-types",
        t.POD,
        workload(t.POD),
        workload(t.POD, pod(volumes=[{"name": "shared", "nfs": {"server": "10.0.0.9", "path": "/exports"}}])),
        ("volume 'shared' is a nfs volume, which the restricted profile refuses",),
    ),
    # images
    (
        "k8s-image-pinned",
        t.DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"image": DIGEST})),
        workload(t.DEPLOYMENT, pod(container={"image": "nginx"})),
        ("container 'app': image 'nginx' has no tag", "pin it to a version"),
    ),
    (
        "k8s-image-pinned",
        t.CRON_JOB,
        workload(t.CRON_JOB),
        workload(t.CRON_JOB, pod(init={"image": "ghcr.io/clinical/migrate:latest"})),
        ("init container 'migrate'", "uses the mutable tag 'latest'"),
    ),
    # limits
    (
        "k8s-resource-limits",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"resources__limits__memory": DROP})),
        ("container 'app' has no memory limit", "set resources.limits.memory"),
    ),
    (
        "k8s-resource-limits",
        t.JOB,
        workload(t.JOB),
        workload(t.JOB, pod(init={"resources": DROP})),
        ("init container 'migrate' has no cpu or memory limit", "resources.limits.cpu and resources.limits.memory"),
    ),
    # seccomp (restricted)
    (
        "k8s-seccomp-profile",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(securityContext__seccompProfile=DROP)),
        ("container 'app' has no seccomp profile", "seccompProfile.type: RuntimeDefault"),
    ),
    (
        "k8s-seccomp-profile",
        t.POD,
        workload(
            t.POD,
            pod(
                securityContext__seccompProfile=DROP,
                container={"securityContext__seccompProfile": {"type": "Localhost", "localhostProfile": "api.json"}},
                init={"securityContext__seccompProfile": {"type": "RuntimeDefault"}},
            ),
        ),
        workload(t.POD, pod(container={"securityContext__seccompProfile": {"type": "Unconfined"}})),
        ("container 'app' runs without seccomp (Unconfined)",),
    ),
    # read-only root filesystem
    (
        "k8s-read-only-root-fs",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET),
        workload(t.STATEFUL_SET, pod(container={"securityContext__readOnlyRootFilesystem": DROP})),
        ("container 'app' can write to its root filesystem", "readOnlyRootFilesystem: true"),
    ),
    # secrets in env
    (
        "k8s-no-literal-secret-env",
        t.DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"env": [{"name": "PUBLIC_KEY", "value": "ssh-ed25519 AAAA"}]})),
        workload(t.DEPLOYMENT, pod(container={"env": [{"name": "DB_PASSWORD", "value": "s3cr3t-p4ss"}]})),
        ("container 'app' sets DB_PASSWORD as a literal value", "valueFrom.secretKeyRef"),
    ),
    (
        "k8s-no-literal-secret-env",
        t.CRON_JOB,
        workload(t.CRON_JOB, pod(init={"env": [{"name": "API_KEY", "value": ""}]})),  # empty: nothing leaks
        workload(t.CRON_JOB, pod(init={"env": [{"name": "API_KEY", "value": "sk-live-123"}]})),
        ("init container 'migrate' sets API_KEY as a literal value", "readable by anyone who can read the CronJob"),
    ),
    (
        "k8s-no-literal-secret-env",
        t.POD,
        workload(t.POD),
        workload(t.POD, pod(container={"env": [{"name": "OAUTH_CLIENT_SECRET", "value": UNKNOWN_STRING_VALUE}]})),
        (
            "container 'app' sets OAUTH_CLIENT_SECRET as a literal value",
        ),  # a value only known at apply is still literal
    ),
    # service account tokens
    (
        "k8s-no-token-automount",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(automountServiceAccountToken=DROP)),
        ("mounts its service account's API token into every container", "set automountServiceAccountToken: false"),
    ),
    (
        "k8s-no-token-automount",
        t.JOB,
        workload(t.JOB),
        workload(t.JOB, pod(automountServiceAccountToken=True)),
        ("(automountServiceAccountToken true)",),
    ),
    (
        "k8s-service-account-no-automount",
        t.SERVICE_ACCOUNT,
        SERVICE_ACCOUNT,
        changed(SERVICE_ACCOUNT, automountServiceAccountToken=DROP),
        ("lets every pod that uses it mount its API token", "set automountServiceAccountToken: false"),
    ),
    # Ingress TLS
    ("k8s-ingress-tls", t.INGRESS, INGRESS, changed(INGRESS, spec__tls=DROP), ("serves its routes over plain HTTP",)),
    (
        "k8s-ingress-backend-tls",
        t.INGRESS,
        INGRESS,
        changed(INGRESS, metadata__annotations=DROP),
        ("forwards to its pods over plain HTTP in prod", "backend-protocol: HTTPS"),
    ),
    (
        "k8s-ingress-backend-tls",
        t.INGRESS,
        INGRESS,
        changed(INGRESS, **{"metadata__annotations__nginx.ingress.kubernetes.io/proxy-ssl-verify": "off"}),
        ("without verifying their certificate (proxy-ssl-verify is not on)",),
    ),
    (
        "k8s-ingress-backend-tls",
        t.INGRESS,
        changed(INGRESS, metadata__annotations={"alb.ingress.kubernetes.io/backend-protocol": "HTTPS"}),
        changed(INGRESS, **{"metadata__annotations__nginx.ingress.kubernetes.io/proxy-ssl-secret": DROP}),
        ("verifies its pods against no CA (no proxy-ssl-secret)",),
    ),
    (
        "k8s-ingress-tls",
        t.INGRESS,
        changed(INGRESS, spec__tls=[{"hosts": ["*.clinical.example.org"], "secretName": "wildcard"}]),
        changed(INGRESS, spec__tls=[{"hosts": ["other.clinical.example.org"], "secretName": "other"}]),
        ("serves stenosis.clinical.example.org without TLS", "add stenosis.clinical.example.org to a tls entry"),
    ),
    (
        "k8s-ingress-tls",
        t.INGRESS,
        changed(INGRESS, metadata__annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "true"}),
        changed(INGRESS, metadata__annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
        ("also serves plain HTTP (nginx.ingress.kubernetes.io/ssl-redirect: false)",),
    ),
    (
        "k8s-ingress-tls",
        t.INGRESS,
        changed(
            INGRESS, spec__ingressClassName="gce", metadata__annotations={"kubernetes.io/ingress.allow-http": "false"}
        ),
        changed(INGRESS, spec__ingressClassName="gce"),
        ("also serves plain HTTP on port 80 (kubernetes.io/ingress.allow-http)",),
    ),
    # Services
    (
        "k8s-service-no-exposed-data-port",
        t.SERVICE,
        DB_SERVICE,
        changed(DB_SERVICE, spec__type="LoadBalancer"),
        ("exposes PostgreSQL port 5432 outside the cluster (type LoadBalancer)", "make it a ClusterIP Service"),
    ),
    (
        "k8s-service-no-exposed-data-port",
        t.SERVICE,
        SERVICE,
        changed(SERVICE, spec__type="NodePort", spec__ports=[{"port": 80.0, "targetPort": 6379.0}]),
        ("exposes Redis port 6379 outside the cluster (type NodePort)",),
    ),
    (
        "k8s-load-balancer-source-ranges",
        t.SERVICE,
        LOAD_BALANCER,
        changed(LOAD_BALANCER, spec__loadBalancerSourceRanges=DROP),
        ("open to every address (no loadBalancerSourceRanges)", "list the client CIDRs"),
    ),
    (
        "k8s-load-balancer-source-ranges",
        t.SERVICE,
        changed(
            LOAD_BALANCER,
            spec__loadBalancerSourceRanges=DROP,
            metadata__annotations={"networking.gke.io/load-balancer-type": "Internal"},
        ),
        changed(LOAD_BALANCER, spec__loadBalancerSourceRanges=["0.0.0.0/0"]),
        ("admits ['0.0.0.0/0'] (loadBalancerSourceRanges): the whole internet",),
    ),
    # Namespaces
    (
        "k8s-namespace-restricted",
        t.NAMESPACE,
        NAMESPACE,
        changed(NAMESPACE, metadata__labels={}),
        ("enforces no Pod Security Standard", "pod-security.kubernetes.io/enforce: restricted"),
    ),
    (
        "k8s-namespace-restricted",
        t.NAMESPACE,
        NAMESPACE,
        changed(NAMESPACE, metadata__labels={"pod-security.kubernetes.io/enforce": "baseline"}),
        ("enforces only the baseline Pod Security Standard",),
    ),
    (
        "k8s-namespace-audit-warn",
        t.NAMESPACE,
        NAMESPACE,
        changed(NAMESPACE, metadata__labels={"pod-security.kubernetes.io/enforce": "restricted"}),
        ("does not warn against the restricted standard", "pod-security.kubernetes.io/warn: restricted"),
    ),
    # EKS
    (
        "eks-endpoint-restricted",
        t.EKS_CLUSTER,
        EKS_CLUSTER,
        changed(EKS_CLUSTER, vpcConfig__endpointPublicAccess=DROP),
        ("public endpoint open to the internet (endpointPublicAccess unset, which defaults to true",),
    ),
    (
        "eks-endpoint-restricted",
        t.EKS_CLUSTER,
        changed(EKS_CLUSTER, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["203.0.113.0/24"]),
        changed(EKS_CLUSTER, vpcConfig__endpointPublicAccess=True, vpcConfig__publicAccessCidrs=["0.0.0.0/0"]),
        ("serves the Kubernetes API to ['0.0.0.0/0']",),
    ),
    (
        "eks-secrets-encrypted",
        t.EKS_CLUSTER,
        EKS_CLUSTER,
        changed(EKS_CLUSTER, encryptionConfig=DROP),
        ("does not envelope-encrypt Kubernetes Secrets", "(no encryptionConfig)"),
    ),
    (
        "eks-secrets-encrypted",
        t.EKS_CLUSTER,
        changed(EKS_CLUSTER, encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}}]),
        changed(EKS_CLUSTER, encryptionConfig__resources=[]),
        ("encryptionConfig.resources does not list secrets",),
    ),
    (
        "eks-secrets-encrypted",
        t.EKS_CLUSTER,
        EKS_CLUSTER,
        changed(EKS_CLUSTER, encryptionConfig__provider={}),
        ("without naming a KMS key",),
    ),
    (
        "eks-control-plane-logging",
        t.EKS_CLUSTER,
        changed(EKS_CLUSTER, enabledClusterLogTypes=["authenticator", "audit", "api"]),
        changed(EKS_CLUSTER, enabledClusterLogTypes=["api"]),
        ("does not send the control plane's ['audit', 'authenticator'] logs",),
    ),
    (
        "eks-node-group-launch-template",
        t.EKS_NODE_GROUP,
        changed(EKS_NODE_GROUP, launchTemplate={"name": "clinical-nodes", "version": "$Latest"}),
        changed(EKS_NODE_GROUP, launchTemplate=DROP),
        ("runs on the launch template EKS generates", "httpPutResponseHopLimit 1"),
    ),
    (
        "eks-node-group-no-remote-ssh",
        t.EKS_NODE_GROUP,
        EKS_NODE_GROUP,
        changed(EKS_NODE_GROUP, remoteAccess={"ec2SshKey": "ops"}),
        ("opens SSH (22) on every node to the internet", "SSM Session Manager"),
    ),
    (
        "eks-node-group-no-remote-ssh",
        t.EKS_NODE_GROUP,
        changed(EKS_NODE_GROUP, remoteAccess={"sourceSecurityGroupIds": ["sg-1"]}),
        changed(EKS_NODE_GROUP, remoteAccess={"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-1"]}),
        ("installs the SSH key pair ops on its nodes",),
    ),
    # GKE
    (
        "gke-endpoint-restricted",
        t.GKE_CLUSTER,
        PUBLIC_GKE,
        changed(PUBLIC_GKE, masterAuthorizedNetworksConfig=DROP),
        ("public endpoint reachable from any address (no masterAuthorizedNetworksConfig)",),
    ),
    (
        "gke-endpoint-restricted",
        t.GKE_CLUSTER,
        changed(PUBLIC_GKE, controlPlaneEndpointsConfig={"ipEndpointsConfig": {"enabled": False}}),
        changed(PUBLIC_GKE, masterAuthorizedNetworksConfig__cidrBlocks=[{"cidrBlock": "0.0.0.0/0"}]),
        ("authorizes ['0.0.0.0/0'] on its API endpoint",),
    ),
    (
        "gke-endpoint-restricted",
        t.GKE_CLUSTER,
        PUBLIC_GKE,
        changed(PUBLIC_GKE, masterAuthorizedNetworksConfig__gcpPublicCidrsAccessEnabled=True),
        ("every Google Cloud public address",),
    ),
    (
        "gke-secrets-encrypted",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, databaseEncryption=DROP),
        ("does not encrypt Kubernetes Secrets with the stack's Cloud KMS key (databaseEncryption state DECRYPTED)",),
    ),
    (
        "gke-logging",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, loggingService="none"),
        ("sends no logs to Cloud Logging (loggingService none)",),
    ),
    (
        "gke-logging",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, loggingConfig=DROP),
        ("does not log ['APISERVER']",),
    ),
    (
        "gke-no-legacy-auth",
        t.GKE_CLUSTER,
        changed(GKE_CLUSTER, enableLegacyAbac=False),
        changed(GKE_CLUSTER, enableLegacyAbac=True),
        ("authorizes with legacy ABAC",),
    ),
    (
        "gke-no-legacy-auth",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, masterAuth__clientCertificateConfig__issueClientCertificate=True),
        ("issues a client certificate",),
    ),
    (
        "gke-node-metadata",
        t.GKE_NODE_POOL,
        GKE_NODE_POOL,
        changed(GKE_NODE_POOL, nodeConfig__workloadMetadataConfig=DROP),
        ("lets pods read the node's metadata server", "(workloadMetadataConfig.mode unset); set mode GKE_METADATA"),
    ),
    (
        "gke-node-metadata",
        t.GKE_CLUSTER,
        changed(GKE_CLUSTER, removeDefaultNodePool=DROP, nodeConfig=NODE_CONFIG),
        changed(GKE_CLUSTER, removeDefaultNodePool=DROP),
        ("default node pool lets pods read the node's metadata server",),
    ),
    (
        "gke-node-metadata",
        t.GKE_CLUSTER,
        changed(GKE_CLUSTER, nodePools=[{"name": "gpu", "nodeConfig": NODE_CONFIG}]),
        changed(
            GKE_CLUSTER,
            nodePools=[
                {"name": "gpu", "nodeConfig": changed(NODE_CONFIG, metadata={"disable-legacy-endpoints": "false"})}
            ],
        ),
        ("node pool 'gpu' serves the legacy metadata endpoints",),
    ),
    (
        "gke-shielded-nodes",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, enableShieldedNodes=False),
        ("turns shielded nodes off (enableShieldedNodes false)",),
    ),
    (
        "gke-shielded-nodes",
        t.GKE_NODE_POOL,
        GKE_NODE_POOL,
        changed(GKE_NODE_POOL, nodeConfig__shieldedInstanceConfig=DROP),
        ("boots its nodes without secure boot", "enableSecureBoot true"),
    ),
    (
        "gke-shielded-nodes",
        t.GKE_NODE_POOL,
        GKE_NODE_POOL,
        changed(GKE_NODE_POOL, nodeConfig__shieldedInstanceConfig__enableIntegrityMonitoring=False),
        ("turns integrity monitoring off",),
    ),
    (
        "gke-workload-identity",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, workloadIdentityConfig=DROP),
        ("has no Workload Identity", "workloadIdentityConfig.workloadPool"),
    ),
    (
        "gke-network-policy",
        t.GKE_CLUSTER,
        changed(GKE_CLUSTER, datapathProvider=DROP, networkPolicy={"enabled": True, "provider": "CALICO"}),
        changed(GKE_CLUSTER, datapathProvider="LEGACY_DATAPATH"),
        ("does not enforce NetworkPolicies", "datapathProvider ADVANCED_DATAPATH"),
    ),
    (
        "gke-private-nodes",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(GKE_CLUSTER, privateClusterConfig__enablePrivateNodes=DROP),
        ("gives its nodes public addresses (privateClusterConfig.enablePrivateNodes is not true)",),
    ),
    (
        "gke-private-nodes",
        t.GKE_NODE_POOL,
        changed(GKE_NODE_POOL, networkConfig=DROP),  # inherits the cluster's private nodes
        changed(GKE_NODE_POOL, networkConfig__enablePrivateNodes=False),
        ("gives its nodes public addresses (networkConfig.enablePrivateNodes false)",),
    ),
    # objects beside the workloads, probes and node identity
    (
        "k8s-namespaced",
        t.CONFIG_MAP,
        {"metadata": META, "data": {}},
        {"metadata": {"name": "settings"}, "data": {}},
        ("names no metadata.namespace", "provider's default namespace"),
    ),
    (
        "k8s-namespaced",
        t.SERVICE,
        SERVICE,
        changed(SERVICE, metadata__namespace="default"),
        ("is in the default namespace",),
    ),
    (
        "k8s-storage-class-encrypted",
        t.STORAGE_CLASS,
        {"provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY_ARN}},
        {"provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}},
        ("creates unencrypted EBS volumes",),
    ),
    (
        "k8s-storage-class-encrypted",
        t.STORAGE_CLASS,
        {"provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true", "kmsKeyId": KEY_ARN}},
        {"provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true"}},
        ("AWS-managed key, not the stack's key (in prod)",),
    ),
    (
        "k8s-storage-class-encrypted",
        t.STORAGE_CLASS,
        {"provisioner": "pd.csi.storage.gke.io", "parameters": {"disk-encryption-kms-key": GKE_KEY}},
        {"provisioner": "pd.csi.storage.gke.io", "parameters": {"type": "pd-balanced"}},
        ("Google-managed key, not the stack's key (in prod)",),
    ),
    (
        "k8s-probes",
        t.STATEFUL_SET,
        workload(t.STATEFUL_SET),
        workload(t.STATEFUL_SET, pod(container={"livenessProbe": DROP})),
        ("container 'app' has no livenessProbe", "a hung process is never restarted"),
    ),
    (
        "k8s-probes",
        t.DEPLOYMENT,
        DEPLOYMENT,
        workload(t.DEPLOYMENT, pod(container={"livenessProbe": DROP, "readinessProbe": DROP})),
        ("container 'app' has no readinessProbe or livenessProbe",),
    ),
    (
        "gke-node-service-account",
        t.GKE_NODE_POOL,
        GKE_NODE_POOL,
        changed(GKE_NODE_POOL, nodeConfig__serviceAccount=DROP),
        ("runs its nodes as the default compute service account (default)",),
    ),
    (
        "gke-node-service-account",
        t.GKE_CLUSTER,
        GKE_CLUSTER,
        changed(
            GKE_CLUSTER,
            nodePools=[{"name": "gpu", "nodeConfig": {"serviceAccount": "123-compute@developer.gserviceaccount.com"}}],
        ),
        ("node pool 'gpu' runs its nodes as the default compute service account (123-compute@",),
    ),
]


@pytest.mark.parametrize(
    ("rule", "resource_type", "good", "bad", "expected"), CASES, ids=[f"{c[0]}:{i}" for i, c in enumerate(CASES)]
)
def test_rule_both_ways(rule: str, resource_type: str, good: Any, bad: Any, expected: tuple[str, ...]) -> None:
    assert violations(rule, resource_type, good) == []
    found = violations(rule, resource_type, bad)
    assert any(all(text in message for text in expected) for message in found), found


def test_every_k8s_resource_rule_has_a_case() -> None:
    assert {r.name for r in k8s_rules.RULES} - {c[0] for c in CASES} == set()


COMPLIANT: list[tuple[str, Any]] = [
    *((kind, workload(kind)) for kind in t.WORKLOADS),
    (t.NAMESPACE, NAMESPACE),
    (t.SERVICE_ACCOUNT, SERVICE_ACCOUNT),
    (t.SERVICE, SERVICE),
    (t.SERVICE, DB_SERVICE),
    (t.SERVICE, LOAD_BALANCER),
    (t.INGRESS, INGRESS),
    (t.EKS_CLUSTER, EKS_CLUSTER),
    (t.EKS_NODE_GROUP, EKS_NODE_GROUP),
    (t.GKE_CLUSTER, GKE_CLUSTER),
    (t.GKE_CLUSTER, changed(GKE_CLUSTER, enableAutopilot=True, workloadIdentityConfig=DROP, datapathProvider=DROP)),
    (t.GKE_NODE_POOL, GKE_NODE_POOL),
]


@pytest.mark.parametrize(("resource_type", "props"), COMPLIANT, ids=[f"{c[0]}:{i}" for i, c in enumerate(COMPLIANT)])
def test_the_hardened_resources_pass_every_rule(resource_type: str, props: Any) -> None:
    # The hardened pod spec on every pod-bearing type, and the compliant cluster objects, break no rule of the pack.
    for rule in RULES:
        assert violations(rule.name, resource_type, props) == [], rule.name


def test_each_pod_bearing_type_is_judged_where_it_keeps_its_pod_spec() -> None:
    for kind in t.WORKLOADS:
        root = workload(kind, pod(securityContext__runAsUser=0))
        assert violations("k8s-non-root", kind, root) == [
            "res runs its pod as root (securityContext.runAsUser: 0); set a non-zero uid such as 10001"
        ], kind
    # A type that carries no pod spec, or a pod spec elsewhere, is not judged.
    assert violations("k8s-non-root", t.SERVICE, workload(t.DEPLOYMENT, pod(securityContext__runAsUser=0))) == []
    assert violations("k8s-non-root", t.DEPLOYMENT, {"metadata": META}) == []


def test_a_weak_pod_fails_every_container_rule_once_per_container() -> None:
    weak = {"containers": [{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "envoy:v1.31.0"}]}
    found = {r.name: violations(r.name, t.DEPLOYMENT, workload(t.DEPLOYMENT, weak)) for r in k8s_rules.RULES}
    assert {name for name, messages in found.items() if messages} == {
        "k8s-non-root",
        "k8s-no-privilege-escalation",
        "k8s-capabilities-restricted",
        "k8s-seccomp-profile",
        "k8s-read-only-root-fs",
        "k8s-image-pinned",
        "k8s-resource-limits",
        "k8s-no-token-automount",
        "k8s-probes",
    }
    assert len(found["k8s-seccomp-profile"]) == 2 and len(found["k8s-image-pinned"]) == 1  # envoy is pinned


def test_secret_names() -> None:
    secret = ["DB_PASSWORD", "POSTGRES_PASS", "API_KEY", "OPENAI_APIKEY", "SIGNING_KEY", "JWT_TOKEN", "SENTRY_DSN"]
    secret += ["AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS_JSON", "redis-password"]
    plain = ["LOG_LEVEL", "TOKEN_TTL", "POSTGRES_PASSWORD_FILE", "OAUTH_TOKEN_URL", "PUBLIC_KEY", "CACHE_KEY_PREFIX"]
    plain += ["AWS_ACCESS_KEY_ID", "PASS_THROUGH_MODE", "KEYCLOAK_REALM", "PWD"]
    assert [n for n in secret if not secret_named(n)] == []
    assert [n for n in plain if secret_named(n)] == []


def test_every_k8s_rule_carries_what_a_reviewer_reads() -> None:
    names = [r.name for r in K8S_RULES]
    assert len(names) == len(set(names)) and all(n.startswith(PREFIXES) for n in names)
    for rule in K8S_RULES:
        assert rule.hipaa in HIPAA.values() and rule.nist and rule.remediation and rule.description, rule.name
        assert rule.resource_types, rule.name
    # Advisory by design: the ServiceAccount default (pods opt out themselves) and PSA audit/warn labels.
    advisory = {r.name for r in K8S_RULES if r.default_enforcement == "advisory"}
    # And probes: a missing probe costs availability, not confidentiality (docker-healthcheck is advisory too).
    assert advisory == {
        "k8s-service-account-no-automount",
        "k8s-namespace-audit-warn",
        "k8s-read-only-root-fs",
        "k8s-probes",
    }


def test_mandatory_rules_block_only_where_the_stack_enforces() -> None:
    for rule in K8S_RULES:
        assert enforcement_for(rule.name, "mandatory", {}) == rule.default_enforcement  # prod
        assert enforcement_for(rule.name, "advisory", {}) == "advisory"  # every other environment
    assert enforcement_for("k8s-no-privileged", "mandatory", {"k8s-no-privileged": "disabled"}) == "disabled"


def test_catalogue_lists_the_k8s_rules_after_aws_and_before_gcp() -> None:
    names = [r.name for r in RULES]
    start = names.index(k8s_rules.RULES[0].name)
    assert names[start : start + len(k8s_rules.RULES)] == [r.name for r in k8s_rules.RULES]
    assert start == names.index(aws_rules.RULES[-1].name) + 1
    assert names[start + len(k8s_rules.RULES)] == gcp_rules.RULES[0].name
    stack_names = [r.name for r in STACK_RULES]
    start = stack_names.index(k8s_rules.STACK_RULES[0].name)
    assert stack_names[start : start + len(k8s_rules.STACK_RULES)] == [r.name for r in k8s_rules.STACK_RULES]
    assert start + len(k8s_rules.STACK_RULES) == stack_names.index(gcp_rules.STACK_RULES[0].name)
    assert all(RULE_NAMES[r.name] is r for r in K8S_RULES)


def _sdk_source(token: str) -> str:
    """The source file of the SDK class a type token names."""
    package, module, class_name = token.split(":")
    if package == "kubernetes":
        group, version = module.split("/")
        path = f"pulumi_kubernetes.{group.split('.')[0]}.{version}"
    else:
        path = f"pulumi_{package}.{module.split('/')[0]}"
    cls = getattr(importlib.import_module(path), class_name)
    return Path(inspect.getfile(cls)).read_text(encoding="utf-8")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_token_is_one_the_installed_sdk_registers() -> None:
    tokens = {rt for r in K8S_RULES for rt in r.resource_types}
    assert len(tokens) == 22
    for token in sorted(tokens):
        assert f"'{token}'" in _sdk_source(token), token


# --- the stack rule: a default-deny NetworkPolicy in every namespace ----------------------------------------------------

Res = tuple[str, str, dict[str, Any], list[str]]  # (type, name, props, names it depends on)
DENY_ALL: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
ALLOW_DNS: dict[str, Any] = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"port": 53.0, "protocol": "UDP"}],
        }
    ],
}


def stack_violations(rule: str, resources: list[Res]) -> list[tuple[str, str]]:
    """Run one stack policy on (type, name, props, dependency names) the way AnalyzeStack wires them."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    built = {
        name: EnginePolicyResource(rt, unknown_checking_proxy(p), f"urn:{name}", name, opts, None, None, [], {})
        for rt, name, p, _ in resources
    }
    for _, name, _, deps in resources:
        built[name].dependencies = [built[d] for d in deps]
    found: list[tuple[str, str]] = []
    validate: Any = POLICIES[rule].validate
    validate(StackValidationArgs(list(built.values())), lambda message, urn=None: found.append((urn or "", message)))
    return found


def policy(name: str, spec: dict[str, Any], namespace: Any = "stenosis", deps: list[str] | None = None) -> Res:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return (t.NETWORK_POLICY, name, {"metadata": metadata, "spec": spec}, deps or [])


NS: Res = (t.NAMESPACE, "ns", NAMESPACE, [])
NO_DENY = (
    "urn:ns",
    "ns (stenosis) has no default-deny NetworkPolicy for Ingress and Egress: add one with podSelector: {}, "
    "policyTypes: [Ingress, Egress] and no rules, then allow each flow with its own policy",
)


def test_a_namespace_needs_a_default_deny_policy_for_both_directions() -> None:
    assert (
        stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL), policy("dns", ALLOW_DNS)]) == []
    )
    assert stack_violations("k8s-namespace-default-deny", [NS]) == [NO_DENY]
    # A policy in another namespace (or the default one) protects nothing here.
    assert stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL, namespace="other")]) == [
        NO_DENY
    ]
    assert stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL, namespace=None)]) == [NO_DENY]
    # Ingress only: policyTypes defaults to Ingress.
    ingress_only = policy("deny", {"podSelector": {}})
    assert stack_violations("k8s-namespace-default-deny", [NS, ingress_only])[0][1].startswith(
        "ns (stenosis) has no default-deny NetworkPolicy for Egress:"
    )
    # Two policies, one per direction, deny as much as one with both.
    egress_only = policy("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert stack_violations("k8s-namespace-default-deny", [NS, ingress_only, egress_only]) == []


def test_a_selector_or_an_allow_all_rule_is_not_a_default_deny() -> None:
    some_pods = policy("deny", {**DENY_ALL, "podSelector": {"matchLabels": {"app": "api"}}})
    assert stack_violations("k8s-namespace-default-deny", [NS, some_pods]) == [NO_DENY]
    allow_all_in = policy("deny", {**DENY_ALL, "ingress": [{}]})
    found = stack_violations("k8s-namespace-default-deny", [NS, allow_all_in])
    assert [m for _, m in found] == [NO_DENY[1].replace("for Ingress and Egress", "for Ingress")]
    # A second all-pods policy that opens egress to the whole internet undoes the deny.
    world = policy(
        "open", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}
    )
    found = stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL), world])
    assert [m for _, m in found] == [NO_DENY[1].replace("for Ingress and Egress", "for Egress")]
    # Egress to the internet on one port, or to the cluster's DNS, is an allowed flow, not an allow-all.
    https = policy(
        "https",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443.0}]}],
        },
    )
    assert (
        stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL), https, policy("dns", ALLOW_DNS)])
        == []
    )


def test_names_known_only_at_apply_match_by_dependency_and_unknown_is_not_a_violation() -> None:
    # An auto-named namespace (no metadata.name in preview) and a policy whose namespace is its name.
    auto: Res = (t.NAMESPACE, "ns", {"metadata": {"labels": NAMESPACE["metadata"]["labels"]}}, [])
    tied = policy("deny", DENY_ALL, namespace=UNKNOWN_STRING_VALUE, deps=["ns"])
    assert stack_violations("k8s-namespace-default-deny", [auto, tied]) == []
    assert stack_violations("k8s-namespace-default-deny", [auto]) == [
        ("urn:ns", NO_DENY[1].replace("ns (stenosis)", "ns"))
    ]
    # A policy whose namespace is unknown and not tied to this one might be in it: not reported.
    elsewhere = policy("deny", DENY_ALL, namespace=UNKNOWN_STRING_VALUE)
    assert stack_violations("k8s-namespace-default-deny", [NS, elsewhere]) == []
    # A policy of this namespace whose spec is unknown until apply: not reported either.
    pending: Res = (t.NETWORK_POLICY, "deny", {"metadata": {"namespace": "stenosis"}, "spec": UNKNOWN_STRING_VALUE}, [])
    assert stack_violations("k8s-namespace-default-deny", [NS, pending]) == []
    # But an unrelated policy in a known other namespace leaves the answer known: a violation.
    assert stack_violations("k8s-namespace-default-deny", [NS, policy("deny", DENY_ALL, namespace="other")]) == [
        NO_DENY
    ]


def test_every_k8s_stack_rule_is_tested_here() -> None:
    assert {r.name for r in k8s_rules.STACK_RULES} == {"k8s-namespace-default-deny", "eks-network-policy"}


# --- a hardened cluster program with the real SDKs, and a weakened copy of each resource -------------------------------


def _container(name: str, image: str = IMAGE, **more: Any) -> dict[str, Any]:
    security = {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "capabilities": {"drop": ["ALL"]},
        **more.pop("security", {}),
    }
    return {
        "name": name,
        "image": image,
        "env": [{"name": "DB_PASSWORD", "value_from": {"secret_key_ref": {"name": "stenosis-db", "key": "password"}}}],
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
        "security_context": security,
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
        "readiness_probe": {"http_get": {"path": "/ready", "port": 8000}},
        "liveness_probe": {"http_get": {"path": "/healthz", "port": 8000}},
        **more,
    }


def _pod_spec(**more: Any) -> dict[str, Any]:
    return {
        "automount_service_account_token": False,
        "service_account_name": "stenosis-api",
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": 10001,
            "run_as_group": 10001,
            "fs_group": 10001,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "containers": [_container("app")],
        "volumes": [{"name": "tmp", "empty_dir": {"medium": "Memory"}}],
        **more,
    }


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "stenosis-api"}}, "spec": spec}


def secure_program(weaken: str | None = None) -> None:
    """An EKS and a GKE cluster and the Kubernetes objects of one system, with ``weaken`` naming the one weakened."""
    weak = weaken or ""
    eks = aws.eks.Cluster(
        "eks",
        role_arn="arn:aws:iam::123456789012:role/clinical-eks",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=["subnet-0a", "subnet-0b"],
            endpoint_public_access=weak == "eks",
            endpoint_private_access=True,
        ),
        encryption_config=aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=KEY_ARN)
        ),
        enabled_cluster_log_types=["api", "audit", "authenticator"],
    )
    aws.eks.NodeGroup(
        "nodes",
        cluster_name=eks.name,
        node_role_arn="arn:aws:iam::123456789012:role/clinical-nodes",
        subnet_ids=["subnet-0a", "subnet-0b"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=2, max_size=4, min_size=1),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id="lt-0123456789abcdef0", version="3"),
        remote_access=aws.eks.NodeGroupRemoteAccessArgs(ec2_ssh_key="ops") if weak == "node-group" else None,
    )
    aws.eks.Addon(
        "vpc-cni",
        cluster_name=eks.name,
        addon_name="vpc-cni",
        configuration_values=json.dumps({"enableNetworkPolicy": "false" if weak == "addon" else "true"}),
    )
    gke = gcp.container.Cluster(
        "gke",
        location="europe-west2",
        remove_default_node_pool=True,
        initial_node_count=1,
        private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True, enable_private_endpoint=True, master_ipv4_cidr_block="172.16.0.0/28"
        ),
        master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block="10.0.0.0/8")]
        ),
        database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=GKE_KEY),
        logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=["SYSTEM_COMPONENTS", "APISERVER"]),
        workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool="clinical.svc.id.goog"),
        datapath_provider="ADVANCED_DATAPATH",
        enable_legacy_abac=weak == "gke",
        master_auth=gcp.container.ClusterMasterAuthArgs(
            client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                issue_client_certificate=False
            )
        ),
    )
    gcp.container.NodePool(
        "pool",
        cluster=gke.name,
        location="europe-west2",
        node_count=1,
        node_config=gcp.container.NodePoolNodeConfigArgs(
            machine_type="e2-standard-4",
            service_account="123456789012-compute@developer.gserviceaccount.com" if weak == "node-account" else SA,
            workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                mode="GCE_METADATA" if weak == "node-pool" else "GKE_METADATA"
            ),
            shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
        ),
    )
    provider = k8s.Provider("cluster", kubeconfig=eks.endpoint)
    opts = pulumi.ResourceOptions(provider=provider)
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    if weak == "namespace":
        labels["pod-security.kubernetes.io/enforce"] = "baseline"
    ns = k8s.core.v1.Namespace("stenosis", metadata={"labels": labels}, opts=opts)
    meta = {"namespace": ns.metadata.name, "labels": {"app": "stenosis-api"}}
    if weak != "network-policy":
        k8s.networking.v1.NetworkPolicy(
            "deny-all",
            metadata={"namespace": ns.metadata.name},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=opts,
        )
    k8s.core.v1.ServiceAccount(
        "stenosis-api", metadata=meta, automount_service_account_token=weak == "service-account", opts=opts
    )
    k8s.storage.v1.StorageClass(
        "encrypted-gp3",
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "false" if weak == "storage-class" else "true", "kmsKeyId": KEY_ARN},
        opts=opts,
    )
    k8s.core.v1.ConfigMap(
        "settings", metadata={} if weak == "config-map" else {"namespace": ns.metadata.name}, data={}, opts=opts
    )
    privileged: dict[str, Any] = {"security": {"privileged": True}} if weak == "deployment" else {}
    k8s.apps.v1.Deployment(
        "api",
        metadata=meta,
        spec={
            "selector": {"match_labels": {"app": "stenosis-api"}},
            "template": _template(_pod_spec(containers=[_container("app", **privileged)])),
        },
        opts=opts,
    )
    root: dict[str, Any] = {"security": {"run_as_user": 0}} if weak == "stateful-set" else {}
    no_liveness: dict[str, Any] = {"liveness_probe": None} if weak == "probes" else {}
    k8s.apps.v1.StatefulSet(
        "db",
        metadata=meta,
        spec={
            "service_name": "db",
            "selector": {"match_labels": {"app": "stenosis-api"}},
            "template": _template(_pod_spec(containers=[_container("postgres", **root, **no_liveness)])),
        },
        opts=opts,
    )
    k8s.apps.v1.DaemonSet(
        "agent",
        metadata=meta,
        spec={
            "selector": {"match_labels": {"app": "stenosis-api"}},
            "template": _template(_pod_spec(host_pid=weak == "daemon-set")),
        },
        opts=opts,
    )
    env = [{"name": "DB_PASSWORD", "value": "s3cr3t-p4ss"}] if weak == "job" else []
    k8s.batch.v1.Job(
        "migrate",
        metadata=meta,
        spec={"template": _template(_pod_spec(restart_policy="Never", containers=[_container("migrate", env=env)]))},
        opts=opts,
    )
    image = "ghcr.io/clinical/report:latest" if weak == "cron-job" else IMAGE
    k8s.batch.v1.CronJob(
        "report",
        metadata=meta,
        spec={
            "schedule": "0 2 * * *",
            "job_template": {
                "spec": {
                    "template": _template(_pod_spec(restart_policy="Never", containers=[_container("report", image)]))
                }
            },
        },
        opts=opts,
    )
    k8s.core.v1.Pod("debug", metadata=meta, spec=_pod_spec(host_network=weak == "pod"), opts=opts)
    k8s.core.v1.Service(
        "api",
        metadata=meta,
        spec={"selector": {"app": "stenosis-api"}, "ports": [{"port": 443, "target_port": 8000}]},
        opts=opts,
    )
    k8s.core.v1.Service(
        "gateway",
        metadata=meta,
        spec={
            "type": "LoadBalancer",
            "ports": [{"port": 443, "target_port": 8443}],
            "load_balancer_source_ranges": ["0.0.0.0/0"] if weak == "service" else ["192.0.2.0/24"],
        },
        opts=opts,
    )
    k8s.networking.v1.Ingress(
        "stenosis",
        metadata={**meta, "annotations": BACKEND_TLS},
        spec={
            "ingress_class_name": "nginx",
            "tls": [] if weak == "ingress" else [{"hosts": ["stenosis.clinical.example.org"], "secret_name": "tls"}],
            "rules": [{"host": "stenosis.clinical.example.org"}],
        },
        opts=opts,
    )


WEAKENED = {
    "eks": "eks-endpoint-restricted",
    "node-group": "eks-node-group-no-remote-ssh",
    "gke": "gke-no-legacy-auth",
    "node-pool": "gke-node-metadata",
    "namespace": "k8s-namespace-restricted",
    "network-policy": "k8s-namespace-default-deny",
    "service-account": "k8s-service-account-no-automount",
    "deployment": "k8s-no-privileged",
    "stateful-set": "k8s-non-root",
    "daemon-set": "k8s-no-host-namespaces",
    "job": "k8s-no-literal-secret-env",
    "cron-job": "k8s-image-pinned",
    "pod": "k8s-no-host-namespaces",
    "service": "k8s-load-balancer-source-ranges",
    "ingress": "k8s-ingress-tls",
    "addon": "eks-network-policy",
    "node-account": "gke-node-service-account",
    "storage-class": "k8s-storage-class-encrypted",
    "config-map": "k8s-namespaced",
    "probes": "k8s-probes",
}


def k8s_findings(weaken: str | None, preview: bool = False) -> set[tuple[str, str]]:
    run = run_under_mocks(lambda: secure_program(weaken), preview=preview)
    found = review(run.resources, environment="prod", enforcement="mandatory")
    assert found.not_run == []
    return {(v.rule, v.resource_name) for v in found.violations if v.rule.startswith(PREFIXES)}


def test_the_secure_program_passes_every_k8s_rule_and_each_rule_judges_something() -> None:
    run = run_under_mocks(lambda: secure_program())
    judged = {r.name for r in K8S_RULES if any(rec.type in r.resource_types for rec in run.resources)}
    assert judged == {r.name for r in K8S_RULES}
    assert k8s_findings(None) == set()
    assert k8s_findings(None, preview=True) == set()  # the namespace's name is unknown: matched by dependency


@pytest.mark.parametrize(("weaken", "rule"), sorted(WEAKENED.items()))
def test_a_weakened_copy_of_each_resource_fails_with_the_right_rule(weaken: str, rule: str) -> None:
    findings = k8s_findings(weaken)
    assert findings and {r for r, _ in findings} == {rule}, findings


# --- the offline plan knows the types a cluster stack registers ---------------------------------------------------------

PLANNED_BEFORE = {  # kinds only, kept as they were: a stack registering them must profile them first
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Secret",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
}
CLUSTER_STACK_TYPES = {
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:eks/addon:Addon",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:networking.k8s.io/v1:IngressClass",
    "pulumi:providers:kubernetes",
}


def test_a_cluster_stacks_types_have_complete_profiles() -> None:
    assert missing(CLUSTER_STACK_TYPES | PLANNED_BEFORE) == []
    registered = {r.type for r in run_under_mocks(lambda: secure_program()).resources if r.custom}
    assert missing(registered) == []
    # Every type a rule judges has a kind, so coverage counts it.
    assert [rt for r in K8S_RULES for rt in r.resource_types if profile_for(rt) is None] == []


def test_the_kubernetes_policy_page_lists_every_rule_and_no_other() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "policy-kubernetes.md").read_text(encoding="utf-8")
    assert set(re.findall(r"`((?:k8s|eks|gke)-[a-z0-9-]+)`", page)) == {r.name for r in K8S_RULES}
    rows = re.findall(
        r"^\| `((?:k8s|eks|gke)-[a-z0-9-]+)`(?: \(stack\))? \| ([a-z-]+) \| ([a-z]+) \| \**([a-z]+)\**", page, re.M
    )
    assert sorted(name for name, *_ in rows) == sorted(r.name for r in K8S_RULES)
    for name, family, severity, default in rows:
        rule = RULE_NAMES[name]
        assert (family, severity, default) == (rule.family, rule.severity, rule.default_enforcement), name
    # Each Pod Security Standards control has a row saying what covers it.
    for control in ("Privileged Containers", "Host Namespaces", "HostPath Volumes", "Host Ports", "Seccomp", "Sysctls"):
        assert f"| {control} |" in page, control
