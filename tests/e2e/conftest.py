"""Fixtures shared by the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import cluster
from tests.e2e.engine import MissingEngineError


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[cluster.KubeCluster]:
    """A real control plane on 127.0.0.1 with kwok nodes (tests/e2e/cluster.py) for the whole session, stopped at
    its end; the test is skipped, saying what is missing (`make kube-tools`), when the programs are not installed."""
    try:
        cluster.find_binaries()
    except MissingEngineError as exc:
        pytest.skip(str(exc))
    with cluster.kube_cluster() as running:
        print(f"\nkube cluster: {', '.join(f'{step} after {s:.1f}s' for step, s in running.timings.items())}")
        yield running
