"""Real `pulumi preview` and `pulumi up` times for `make bench`: `local` on dockerd (images already present) and
`cluster` on the kube harness's API server (tests/e2e/cluster.py).

One run: the project copy, stand-ins and plugins are prepared first (not timed), then `preview`,
`up`, a second `preview` (no changes) and `destroy` are timed as whole CLI processes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.e2e import cluster
from tests.e2e.engine import docker_engine, pulumi_engine
from tests.e2e.images import build_stand_ins
from tests.e2e.project import e2e_config, prepare


def real_engine_times(stack: str = "local") -> dict[str, float]:
    """Seconds of each CLI command on ``stack``; raises MissingEngineError when the engine is absent."""
    docker = docker_engine()
    try:
        with tempfile.TemporaryDirectory() as work:
            pulumi = pulumi_engine(Path(work) / "state", docker)
            _, _, plan = e2e_config(stack)
            e2e = prepare(stack, Path(work), pulumi, build_stand_ins(docker, plan))
            times: dict[str, float] = {}
            for label, args in (
                ("preview", ("preview",)),
                ("up", ("up", "--yes", "--skip-preview")),
                ("preview_no_changes", ("preview", "--expect-no-changes")),
                ("destroy", ("destroy", "--yes", "--skip-preview")),
            ):
                started = time.perf_counter()
                pulumi.run(*args, cwd=e2e.project)
                times[label] = time.perf_counter() - started
            return times
    finally:
        docker.stop()


def real_cluster_times(stack: str = "cluster") -> dict[str, float]:
    """Seconds of each CLI command on ``stack`` against a fresh kube harness (its start-up not timed)."""
    cluster.find_binaries()
    with cluster.kube_cluster() as running, tempfile.TemporaryDirectory() as work:
        pulumi = pulumi_engine(Path(work) / "state", None)
        e2e = prepare(
            stack,
            Path(work),
            pulumi,
            {},
            secret_values={"kubeconfig": Path(running.kubeconfig).read_text()},
            docker_host=False,
        )
        times: dict[str, float] = {}
        for label, args in (
            ("preview", ("preview",)),
            ("up", ("up", "--yes", "--skip-preview")),
            ("preview_no_changes", ("preview", "--expect-no-changes")),
            ("destroy", ("destroy", "--yes", "--skip-preview")),
        ):
            started = time.perf_counter()
            pulumi.run(*args, cwd=e2e.project, timeout=2400)
            times[label] = time.perf_counter() - started
        return times
