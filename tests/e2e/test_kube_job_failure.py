"""`make e2e`: a failed one-shot job stops a Kubernetes deployment, as it does on a Docker host and a VM.

Neurocore alone is deployed by the real CLI to the kwok cluster with its migration's image replaced by a
marker that kwok's ``pod-fail`` stage (tests/e2e/kube/kwok-stages.yaml) fails with exit 3 and a termination
message, as a failed migration would. What must hold: `pulumi up` exits non-zero naming the job, the services
that wait for the migration (the API and the Celery worker) are never created, and `destroy` leaves nothing.
"""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.cluster import KubeCluster
from tests.e2e.project import prepare_cluster_stack

pytestmark = pytest.mark.e2e
STACK = "cluster"
PREFIX = "clinical-platform:"
FAILING_IMAGE = "e2e.invalid/failing-job:1"  # pod-fail's marker


def test_a_failed_job_stops_the_deployment_and_its_dependants(
    kube_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine, e2e = prepare_cluster_stack(
        kube_cluster.kubeconfig, tmp_path_factory.mktemp("kube-fail-state"), tmp_path_factory.mktemp("kube-fail")
    )
    stack_file = e2e.project / f"Pulumi.{STACK}.yaml"
    document = yaml.safe_load(stack_file.read_text())
    config = document["config"]
    config[f"{PREFIX}systems"] = ["neurocore"]
    # Overrides of systems not enabled are a config error: keep Neurocore's only.
    overrides = {"neurocore": (config.get(f"{PREFIX}overrides") or {}).get("neurocore", {})}
    config[f"{PREFIX}overrides"] = overrides
    services = overrides["neurocore"].setdefault("services", {})
    services.setdefault("migrate", {})["image"] = FAILING_IMAGE
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        done = engine.run("up", "--yes", "--skip-preview", "--stack", STACK, cwd=e2e.project, check=False)
        output = done.stdout + done.stderr
        assert done.returncode != 0, f"the deployment passed over a failed migration:\n{output[-3000:]}"
        assert "neurocore-migrate" in output, f"the error does not name the job:\n{output[-3000:]}"
        job = kube_cluster.api.get("/apis/batch/v1/namespaces/neurocore/jobs/migrate")
        failed = [c for c in job["status"].get("conditions", []) if c["type"] == "Failed" and c["status"] == "True"]
        assert failed, f"the job did not fail: {job['status']}"
        for dependant in ("api", "celery-worker"):
            path = f"/apis/apps/v1/namespaces/neurocore/deployments/{dependant}"
            assert not kube_cluster.api.exists(path), f"{dependant} was created although its migration failed"
    finally:
        engine.run("destroy", "--yes", "--stack", STACK, cwd=e2e.project, timeout=1800)
    assert not kube_cluster.api.exists("/api/v1/namespaces/neurocore"), "namespace neurocore left behind"
