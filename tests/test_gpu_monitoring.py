"""GPU memory alerting: the GPU exporter sees every GPU of its host without taking one from the allocator.

- the spec field ``observes_gpus`` and its validation; its lowering on a Docker host (a device request for every
  GPU with the ``utility`` capability, labelled) and in a VM's compose file (``count: all``); the Kubernetes
  runtime refuses it (the cluster watches its GPU nodes);
- the registry's last step adds the exporter only where a service computes on a GPU of a host the runtime owns:
  ``lab`` has one per GPU system, a stack with GPUs off (the e2e stacks) and a cluster stack have none;
- ``promtool test rules``: GpuMemoryNearlyFull and GpuExporterMissing fire on synthetic series, and do not when
  the GPUs have room and report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components import gpu_allocation
from components.hardening import GPU_OBSERVER_LABEL, contract
from components.runtimes.docker_host.workload import container_hardening, gpu_requests
from components.runtimes.docker_on_vm.cloud_init import compose_service
from components.runtimes.kubernetes.pod import check_restricted
from components.specs import GpuSpec, ServiceSpec, SystemSpec
from stacks.alerts import PLATFORM_RULES_PATH, AlertingConfig, with_alerting
from stacks.alerts.gpu import GPU_EXPORTER_IMAGE, gpu_exporter_service
from stacks.alerts.scrape import CONFIG_PATH
from tests.conftest import parse, stack_config
from tests.consumers_support import program_run
from tests.test_alerting import _Images, _promtool_test

CONTAINER = "docker:index/container:Container"
EXPORTER = gpu_exporter_service(_Images())
WORKER = ServiceSpec(name="worker", image="registry.example/worker:1.0.0", gpu=GpuSpec(count=1, min_vram_gb=16))


# ---------------------------------------------------------------- the spec field and its lowering


@pytest.mark.parametrize(
    "extra",
    [{"gpu": GpuSpec()}, {"kind": "job", "port": None, "health": None}, {"replicas": 2}],
)
def test_an_observer_runs_as_one_service_replica_without_a_gpu_request(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="observes_gpus: a GPU observer sees every GPU without computing"):
        ServiceSpec.model_validate({**EXPORTER.model_dump(), **extra})


def test_the_exporter_is_hardened_and_not_root() -> None:
    h = contract(EXPORTER)
    assert (h.user, h.read_only_root, h.cap_drop, h.cap_add, h.no_new_privileges) == (
        "65534:65534",
        True,
        ("ALL",),
        (),
        True,
    )
    assert (h.gpus, h.observes_gpus, EXPORTER.image) == (0, True, GPU_EXPORTER_IMAGE)


def test_docker_host_asks_for_every_gpu_with_the_utility_capability_only() -> None:
    (request,) = container_hardening(contract(EXPORTER))["device_requests"]
    assert (request.driver, request.count, request.capabilities, request.device_ids) == (
        "nvidia",
        -1,
        ["utility"],
        None,
    )
    # A GPU service keeps its compute request (the allocator's ids when it has some).
    pinned = WORKER.model_copy(update={"gpu": GpuSpec(count=1, device_ids=("1",))})
    (mine,) = gpu_requests(contract(pinned), 0) or []
    assert (mine.device_ids, mine.capabilities, mine.count) == (["1"], ["gpu"], None)


def test_vm_compose_reserves_every_gpu_for_utility() -> None:
    entry = compose_service(
        EXPORTER, plain_env={}, has_secret_env=False, secret_files=[], plain_files=[], publish=[], image_map=None
    )
    assert entry["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["utility"]}
    ]
    assert entry["user"] == "65534:65534" and entry["read_only"] is True and entry["cap_drop"] == ["ALL"]


def test_the_kubernetes_runtime_refuses_an_observer_with_the_reason() -> None:
    with pytest.raises(ValueError, match="observes_gpus; the kubernetes runtime owns no GPU node: the cluster's own"):
        check_restricted(EXPORTER)


# ---------------------------------------------------------------- where the platform adds it


def _system(*services: ServiceSpec) -> SystemSpec:
    return SystemSpec(name="demo", description="d", services=services)


def test_with_alerting_adds_the_exporter_and_its_rules_only_for_gpu_services_on_an_owned_host() -> None:
    cases = {
        (True, True): True,  # a Docker host or VM with a GPU service
        (False, True): False,  # a stack with GPUs off: nothing to observe
        (True, False): False,  # a cluster: its GPU nodes are the cluster's
    }
    for (gpu, host_agents), expected in cases.items():
        worker = WORKER if gpu else WORKER.model_copy(update={"gpu": None})
        final = with_alerting(
            _system(worker), images=_Images(), environment="dev", host_agents=host_agents, alerting=AlertingConfig()
        )
        names = {s.name for s in final.services}
        prometheus = final.service("prometheus")
        files = {f.path: f.content for f in prometheus.files}
        jobs = {j["job_name"] for j in yaml.safe_load(files[CONFIG_PATH])["scrape_configs"]}
        groups = {g["name"] for g in yaml.safe_load(files[PLATFORM_RULES_PATH])["groups"]}
        assert ("gpu-exporter" in names, "gpu-exporter" in jobs, "demo-gpu" in groups) == (expected,) * 3, (
            gpu,
            host_agents,
        )
    # A disabled GPU service observes nothing either.
    idle = with_alerting(
        _system(WORKER.model_copy(update={"replicas": 0})),
        images=_Images(),
        environment="dev",
        host_agents=True,
        alerting=AlertingConfig(),
    )
    assert "gpu-exporter" not in {s.name for s in idle.services}


def _stenosis(**changes: Any) -> list[SystemSpec]:
    images = {n: {"image": f"registry.example/stenosis/{n}:1.0.0"} for n in ("backend", "worker", "frontend")}
    overrides = {"stenosis-detection": {"services": images}}
    for service, value in changes.items():
        overrides["stenosis-detection"]["services"][service] = {**images[service], "gpu": value}
    raw = stack_config(systems=["stenosis-detection"], overrides=overrides, hostGpus={"model": "a10g", "count": 2})
    if changes:
        raw.pop("hostGpus")
    return parse(raw).system_specs()


def test_gpus_off_leaves_no_exporter_and_the_allocator_ignores_it() -> None:
    (on,) = _stenosis()
    exporter = on.service("gpu-exporter")
    assert exporter.observes_gpus and exporter.gpu is None
    # Only the worker is placed on the host's cards: the exporter asks the allocator for nothing.
    assert [d.service for d in gpu_allocation.demands(on.name, on.services)] == ["worker"]
    assert on.service("worker").gpu is not None and on.service("worker").gpu.device_ids == ("0",)  # type: ignore[union-attr]
    (off,) = _stenosis(worker=False)
    assert "gpu-exporter" not in {s.name for s in off.services}


def _containers(stack: str) -> dict[str, dict[str, Any]]:
    return {str(r.inputs.get("name") or r.name): r.inputs for r in program_run(stack).resources if r.type == CONTAINER}


def test_lab_runs_one_exporter_per_gpu_system_seeing_every_gpu() -> None:
    containers = _containers("lab")
    gpu_systems = {
        next(lb["value"] for lb in containers[n]["labels"] if lb["label"] == "clinical.platform/system")
        for n, inputs in containers.items()
        if any(r.get("count") != -1 for r in inputs.get("deviceRequests") or [])
    }
    exporters = {n: i for n, i in containers.items() if n.endswith("-gpu-exporter")}
    assert gpu_systems and set(exporters) == {f"{s}-gpu-exporter" for s in gpu_systems}
    for inputs in exporters.values():
        labels = {lb["label"]: lb["value"] for lb in inputs["labels"]}
        assert labels[GPU_OBSERVER_LABEL] == "true"
        assert inputs["deviceRequests"] == [{"driver": "nvidia", "count": -1, "capabilities": ["utility"]}]
        assert inputs["user"] == "65534:65534" and inputs["readOnly"] is True
        assert inputs["capabilities"] == {"drops": ["ALL"], "adds": []}


def test_a_cluster_stack_with_gpu_services_has_no_exporter() -> None:
    run = program_run("staging-eks")
    names = [str(r.name) for r in run.resources]
    assert any("worker" in n for n in names)
    assert not [n for n in names if "gpu-exporter" in n]


# ---------------------------------------------------------------- promtool test rules


def _gpu_rules(tmp_path: Path) -> str:
    final = with_alerting(
        _system(WORKER), images=_Images(), environment="prod", host_agents=True, alerting=AlertingConfig()
    )
    return next(f.content for f in final.service("prometheus").files if f.path == PLATFORM_RULES_PATH)


GIB = 1024**3
TARGET = 'job="gpu-exporter",instance="10.0.0.7:9835"'


def test_gpu_memory_nearly_full_fires_per_gpu_after_10_minutes(tmp_path: Path) -> None:
    full, roomy = "aaaa-1111", "bbbb-2222"
    series = [
        {"series": f'nvidia_smi_memory_total_bytes{{{TARGET},uuid="{u}"}}', "values": f"{24 * GIB}x30"}
        for u in (full, roomy)
    ]
    series += [
        {"series": f'nvidia_smi_memory_used_bytes{{{TARGET},uuid="{full}"}}', "values": f"{int(23 * GIB)}x30"},
        {"series": f'nvidia_smi_memory_used_bytes{{{TARGET},uuid="{roomy}"}}', "values": f"{12 * GIB}x30"},
        *(
            {"series": f'nvidia_smi_gpu_info{{{TARGET},uuid="{u}",name="NVIDIA A10G"}}', "values": "1x30"}
            for u in (full, roomy)
        ),
    ]
    _promtool_test(
        tmp_path,
        {"platform.yml": _gpu_rules(tmp_path)},
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "5m", "alertname": "GpuMemoryNearlyFull", "exp_alerts": []},
                    {
                        "eval_time": "15m",
                        "alertname": "GpuMemoryNearlyFull",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "job": "gpu-exporter",
                                    "instance": "10.0.0.7:9835",
                                    "uuid": full,
                                    "name": "NVIDIA A10G",
                                },
                                "exp_annotations": {
                                    "summary": f"GPU NVIDIA A10G ({full}) has used more than 90% of its memory for "
                                    "10 minutes: the next allocation of a GPU service may fail out of memory"
                                },
                            }
                        ],
                    },
                    {"eval_time": "15m", "alertname": "GpuExporterMissing", "exp_alerts": []},
                ],
            }
        ],
    )


def test_gpu_exporter_missing_fires_when_no_gpu_reports(tmp_path: Path) -> None:
    _promtool_test(
        tmp_path,
        {"platform.yml": _gpu_rules(tmp_path)},
        [
            {
                "interval": "1m",
                # The exporter is up but nvidia-smi fails: no memory series, only its failure counter.
                "input_series": [{"series": f"nvidia_smi_failed_scrapes_total{{{TARGET}}}", "values": "0+4x30"}],
                "alert_rule_test": [
                    {"eval_time": "5m", "alertname": "GpuExporterMissing", "exp_alerts": []},
                    {
                        "eval_time": "15m",
                        "alertname": "GpuExporterMissing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "job": "gpu-exporter"},
                                "exp_annotations": {
                                    "summary": "No GPU reports its memory: the GPU exporter is down or nvidia-smi "
                                    "fails in it"
                                },
                            }
                        ],
                    },
                    {"eval_time": "15m", "alertname": "GpuMemoryNearlyFull", "exp_alerts": []},
                ],
            }
        ],
    )
