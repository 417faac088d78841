"""`make e2e`: the `cluster` stack (all five systems, runtime kubernetes) deployed by the real CLI to a real API server.

What it proves: `pulumi up` succeeds against kube-apiserver v1.34 (tests/e2e/cluster.py, kwok nodes), so the
API server's own Pod Security admission accepted every pod of every restricted namespace; every Deployment
and StatefulSet is available and every Job complete (pulumi-kubernetes awaits them); GPU pods run on the
GPU node and nothing else does unless it follows a GPU pod's volume; `preview --expect-no-changes` is
clean; `destroy` leaves none of the namespaces.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.cluster import KubeCluster
from tests.e2e.engine import PulumiEngine
from tests.e2e.project import E2eStack, prepare_cluster_stack

pytestmark = pytest.mark.e2e
STACK = "cluster"
SYSTEMS = ("cogstack-nlp", "stenosis-detection", "neurocore", "claims-agent", "therapy-compliance")


@pytest.fixture(scope="module")
def deployed(
    kube_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PulumiEngine, E2eStack]]:
    engine, e2e = prepare_cluster_stack(
        kube_cluster.kubeconfig, tmp_path_factory.mktemp("kube-state"), tmp_path_factory.mktemp("kube-project")
    )
    started = time.monotonic()
    engine.run("up", "--yes", "--skip-preview", "--stack", STACK, cwd=e2e.project, timeout=2400)
    print(f"\ncluster: pulumi up {time.monotonic() - started:.1f}s")
    yield engine, e2e
    started = time.monotonic()
    engine.run("destroy", "--yes", "--stack", STACK, cwd=e2e.project, timeout=1800)
    print(f"\ncluster: pulumi destroy {time.monotonic() - started:.1f}s")
    for system in SYSTEMS:
        assert not kube_cluster.api.exists(f"/api/v1/namespaces/{system}"), f"namespace {system} left behind"


def _items(cluster: KubeCluster, path: str) -> list[dict]:
    return list(cluster.api.get(path)["items"])


def test_every_namespace_enforces_restricted_and_every_workload_is_ready(
    deployed: tuple[PulumiEngine, E2eStack], kube_cluster: KubeCluster
) -> None:
    for system in SYSTEMS:
        labels = kube_cluster.api.get(f"/api/v1/namespaces/{system}")["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        for kind in ("deployments", "statefulsets"):
            for item in _items(kube_cluster, f"/apis/apps/v1/namespaces/{system}/{kind}"):
                name = item["metadata"]["name"]
                assert item["status"].get("readyReplicas", 0) == item["spec"]["replicas"], f"{system}/{name}"
        for job in _items(kube_cluster, f"/apis/batch/v1/namespaces/{system}/jobs"):
            assert job["status"].get("succeeded") == 1, f"{system}/{job['metadata']['name']}"
        # Admission let every pod in: each one exists, is scheduled and runs as the restricted profile demands.
        for pod in _items(kube_cluster, f"/api/v1/namespaces/{system}/pods"):
            assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
            assert pod["spec"].get("nodeName"), pod["metadata"]["name"]


def test_gpu_pods_run_on_the_gpu_node_with_distinct_gpus(
    deployed: tuple[PulumiEngine, E2eStack], kube_cluster: KubeCluster
) -> None:
    gpu_node = kube_cluster.gpu_nodes[0]
    asked = 0
    for system in SYSTEMS:
        for pod in _items(kube_cluster, f"/api/v1/namespaces/{system}/pods"):
            limits = pod["spec"]["containers"][0]["resources"].get("limits", {})
            gpus = int(limits.get("nvidia.com/gpu", "0"))
            tolerates = any(t.get("key") == "nvidia.com/gpu" for t in pod["spec"].get("tolerations", []))
            if gpus:
                asked += gpus
                assert pod["spec"]["nodeName"] == gpu_node, pod["metadata"]["name"]
            elif not tolerates:
                assert pod["spec"]["nodeName"] != gpu_node, pod["metadata"]["name"]
    # The scheduler counts nvidia.com/gpu like any extended resource: no two pods share a card.
    assert 0 < asked <= 4


def test_routes_are_ingresses_with_tls(deployed: tuple[PulumiEngine, E2eStack], kube_cluster: KubeCluster) -> None:
    hosts = []
    for system in SYSTEMS:
        for ingress in _items(kube_cluster, f"/apis/networking.k8s.io/v1/namespaces/{system}/ingresses"):
            assert ingress["spec"]["tls"][0]["secretName"] == "routes-tls"
            hosts.append(ingress["spec"]["rules"][0]["host"])
        assert kube_cluster.api.exists(f"/api/v1/namespaces/{system}/secrets/routes-tls")
    assert len(hosts) == 12


def test_a_second_preview_shows_no_changes(deployed: tuple[PulumiEngine, E2eStack]) -> None:
    engine, e2e = deployed
    engine.run("preview", "--expect-no-changes", "--stack", STACK, cwd=e2e.project, timeout=900)
