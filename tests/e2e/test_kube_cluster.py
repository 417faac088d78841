"""The e2e Kubernetes cluster (tests/e2e/cluster.py) does what the ``kubernetes`` runtime's e2e relies on.

Against the real API server, controllers and scheduler, with kwok's nodes:
PodSecurity ``restricted`` rejects a root pod (directly and through a
Deployment's ReplicaSet) and admits a compliant Deployment, which becomes
Available on the CPU nodes; a GPU pod lands on the GPU node only with the
toleration; a Job completes; a StatefulSet's volume claim is provisioned and
bound; an Ingress and a LoadBalancer Service get an address; deleting a
namespace with Foreground propagation completes. Nothing listens beyond
127.0.0.1. Skipped, saying what to install, without ``make kube-tools``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.e2e.cluster import KUBE_VERSION, KubeApi, KubeApiError, KubeCluster

pytestmark = pytest.mark.e2e
IMAGE = "e2e/app:1"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last thing it returned."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last!r})")


def namespace(api: KubeApi, name: str) -> str:
    """A namespace enforcing PodSecurity ``restricted``, once its ServiceAccount exists (pods need it)."""
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    api.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )
    wait_for(
        f"{name}'s default ServiceAccount", lambda: api.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default")
    )
    return name


def pod_spec(restricted: bool = True, **extra: Any) -> dict[str, Any]:
    """A one-container pod spec that passes ``restricted`` (non-root, no escalation, no capabilities, seccomp),
    or one running as root that does not."""
    container: dict[str, Any] = {"name": "app", "image": IMAGE, "resources": extra.pop("resources", {})}
    if not restricted:
        return {"securityContext": {"runAsUser": 0}, "containers": [container], **extra}
    container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    security = {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    return {"securityContext": security, "automountServiceAccountToken": False, "containers": [container], **extra}


def deployment(name: str, spec: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def pods(api: KubeApi, ns: str, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3D{app}")["items"]
    return items


def test_kubeconfig_is_self_contained_for_a_pulumi_provider(kube_cluster: KubeCluster) -> None:
    """What ``kubernetes.Provider(kubeconfig=cluster.kubeconfig.read_text())`` gets: one cluster with the CA
    inline and the server on 127.0.0.1, a bearer token in group system:masters, the context current."""
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == kube_cluster.server
    assert kube_cluster.server.startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in cluster["cluster"]
    assert config["current-context"] == config["contexts"][0]["name"]
    version = kube_cluster.api.get("/version")
    assert version["gitVersion"] == KUBE_VERSION, version
    review = kube_cluster.api.create(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    assert "system:masters" in review["status"]["userInfo"]["groups"]


def test_pod_security_rejects_root_and_a_restricted_deployment_becomes_available(kube_cluster: KubeCluster) -> None:
    api = kube_cluster.api
    ns = namespace(api, "e2e-psa")
    root_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"}, "spec": pod_spec(restricted=False)}
    with pytest.raises(KubeApiError) as rejected:
        api.create(f"/api/v1/namespaces/{ns}/pods", root_pod)
    assert rejected.value.status == 403 and "violates PodSecurity" in str(rejected.value), rejected.value

    # Through a Deployment the ReplicaSet controller's pod creation is what fails, as its condition says.
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("root", pod_spec(restricted=False)))
    failure = wait_for(
        "root ReplicaSet's FailedCreate",
        lambda: next(
            (
                condition(rs, "ReplicaFailure")
                for rs in api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=app%3Droot")["items"]
                if condition(rs, "ReplicaFailure")
            ),
            None,
        ),
    )
    assert "violates PodSecurity" in failure["message"], failure
    assert not pods(api, ns, "root")

    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", pod_spec(), replicas=2))
    web = wait_for(
        "web Available",
        lambda: (
            (d := api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web"))["status"].get("availableReplicas") == 2
            and condition(d, "Available").get("status") == "True"
            and d
        ),
    )
    assert web["status"]["readyReplicas"] == 2
    running = pods(api, ns, "web")
    assert {p["status"]["phase"] for p in running} == {"Running"}
    assert {p["spec"]["nodeName"] for p in running} <= set(kube_cluster.cpu_nodes), "a CPU pod landed on the GPU node"

    # pulumi-kubernetes deletes with Foreground propagation: the garbage collector must finish it.
    api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/web", propagation="Foreground")
    wait_for(
        "web deleted",
        lambda: not api.exists(f"/apis/apps/v1/namespaces/{ns}/deployments/web") and not pods(api, ns, "web"),
    )


def test_a_gpu_pod_lands_on_the_gpu_node_only_with_the_toleration(kube_cluster: KubeCluster) -> None:
    api = kube_cluster.api
    ns = namespace(api, "e2e-gpu")
    key, value = kube_cluster.gpu_label
    taint = kube_cluster.gpu_taint
    gpu = {"limits": {kube_cluster.gpu_resource: "1"}}
    toleration = {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": taint["effect"]}

    def pod(name: str, **extra: Any) -> dict[str, Any]:
        spec = pod_spec(resources=gpu, nodeSelector={key: value}, **extra)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}

    api.create(f"/api/v1/namespaces/{ns}/pods", pod("trainer", tolerations=[toleration]))
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("untolerated"))
    trainer = wait_for(
        "trainer Running",
        lambda: (p := api.get(f"/api/v1/namespaces/{ns}/pods/trainer"))["status"].get("phase") == "Running" and p,
    )
    assert trainer["spec"]["nodeName"] in kube_cluster.gpu_nodes
    assert condition(trainer, "Ready")["status"] == "True"
    unscheduled = wait_for(
        "untolerated Unschedulable",
        lambda: (
            condition(api.get(f"/api/v1/namespaces/{ns}/pods/untolerated"), "PodScheduled").get("reason")
            == "Unschedulable"
            and api.get(f"/api/v1/namespaces/{ns}/pods/untolerated")
        ),
    )
    assert "untolerated taint" in condition(unscheduled, "PodScheduled")["message"]


def test_a_job_completes(kube_cluster: KubeCluster) -> None:
    api = kube_cluster.api
    ns = namespace(api, "e2e-job")
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec(restartPolicy="Never")}},
    }
    api.create(f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    done = wait_for(
        "migrate Complete",
        lambda: (
            condition(j := api.get(f"/apis/batch/v1/namespaces/{ns}/jobs/migrate"), "Complete").get("status") == "True"
            and j
        ),
    )
    assert done["status"]["succeeded"] == 1


def test_a_statefulset_gets_its_volume_bound_and_becomes_ready(kube_cluster: KubeCluster) -> None:
    api = kube_cluster.api
    ns = namespace(api, "e2e-sts")
    labels = {"app": "db"}
    template = pod_spec()
    template["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template},
            "volumeClaimTemplates": [claim],
        },
    }
    api.create(f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts)
    wait_for(
        "db ready",
        lambda: api.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/db")["status"].get("readyReplicas") == 1,
    )
    pvc = api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data-db-0")
    assert pvc["status"]["phase"] == "Bound", pvc["status"]
    assert pvc["spec"]["storageClassName"] == kube_cluster.storage_class
    assert pvc["status"]["capacity"]["storage"] == "5Gi"
    pv = api.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]


def test_an_ingress_and_a_load_balancer_get_an_address(kube_cluster: KubeCluster) -> None:
    """pulumi-kubernetes awaits an Ingress until it has an address and an Endpoints object per backend Service,
    and a LoadBalancer Service until it has an address; the harness writes 127.0.0.1 as a controller would."""
    api = kube_cluster.api
    ns = namespace(api, "e2e-ingress")
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("api", pod_spec()))
    for name, kind in (("api", "ClusterIP"), ("api-lb", "LoadBalancer")):
        service = {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}], "type": kind}
        api.create(
            f"/api/v1/namespaces/{ns}/services",
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": service},
        )
    backend = {"service": {"name": "api", "port": {"number": 80}}}
    rule = {
        "host": "api.clinical.example.org",
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "api"},
        "spec": {"rules": [rule]},
    }
    created = api.create(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ingress)
    assert created["spec"]["ingressClassName"] == kube_cluster.ingress_class, "the default IngressClass was not set"
    address = wait_for(
        "ingress address",
        lambda: api.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/api")["status"]["loadBalancer"].get(
            "ingress"
        ),
    )
    assert address == [{"ip": "127.0.0.1"}]
    lb = wait_for(
        "load balancer address",
        lambda: api.get(f"/api/v1/namespaces/{ns}/services/api-lb")["status"]["loadBalancer"].get("ingress"),
    )
    assert lb[0]["ip"] == "127.0.0.1"
    endpoints = wait_for(
        "api endpoints",
        lambda: api.get(f"/api/v1/namespaces/{ns}/endpoints/api").get("subsets"),
    )
    assert endpoints[0]["addresses"], endpoints


def test_a_namespace_deleted_in_the_foreground_is_gone_with_its_volumes(kube_cluster: KubeCluster) -> None:
    api = kube_cluster.api
    ns = namespace(api, "e2e-delete")
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", pod_spec(), replicas=2))
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    api.create(
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims",
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch"}, "spec": claim},
    )
    volume = wait_for(
        "scratch Bound",
        lambda: (
            (c := api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/scratch"))["status"].get("phase") == "Bound"
            and c["spec"]["volumeName"]
        ),
    )
    wait_for("web pods Running", lambda: [p["status"]["phase"] for p in pods(api, ns, "web")] == ["Running"] * 2)
    api.delete(f"/api/v1/namespaces/{ns}", propagation="Foreground")
    wait_for(f"namespace {ns} gone", lambda: not api.exists(f"/api/v1/namespaces/{ns}"))
    wait_for(f"volume {volume} reclaimed", lambda: not api.exists(f"/api/v1/persistentvolumes/{volume}"))


def test_nothing_listens_beyond_loopback(kube_cluster: KubeCluster) -> None:
    done = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip("ss (iproute2) is not available")
    pids = {str(pid) for pid in kube_cluster.pids.values()}
    ours = [line.split() for line in done.stdout.splitlines() if any(f"pid={pid}," in line for pid in pids)]
    assert ours, "no listening socket of the cluster's processes found"
    wide = [fields[3] for fields in ours if not fields[3].startswith("127.0.0.1:")]
    assert not wide, f"listening beyond 127.0.0.1: {wide}"
