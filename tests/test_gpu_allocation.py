"""GPU assignment by device id: the allocator, the stack-level fit check, and how both Docker runtimes lower it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components import gpu_allocation
from components.gpu_allocation import GpuDemand, GpuOvercommitError, allocate
from components.runtimes.docker_on_vm import cloud_init
from components.runtimes.docker_on_vm.runtime import on_one_vm
from components.specs import GpuSpec, HealthCheckSpec, ServiceSpec
from offline.harness import load_stack_file
from stacks.config import StackConfig, parse_stack_config
from tests.conftest import named, problems, run_stack, stack_config
from tests.consumers_support import tool


def _demand(service: str, vram: int, count: int = 1, replica: int = 0) -> GpuDemand:
    return GpuDemand("sys", service, replica, count, vram)


def test_requests_spread_over_the_cards_largest_first() -> None:
    placed = allocate([_demand("small", 8), _demand("a", 16), _demand("b", 16)], 2, 24, "a10g")
    assert placed[_demand("a", 16)] == (0,) and placed[_demand("b", 16)] == (1,)
    assert placed[_demand("small", 8)] == (0,)  # both cards have 8 GiB left: the lower id
    assert gpu_allocation.vram_per_gpu(placed, 2) == [24, 16]


def test_a_multi_gpu_request_gets_distinct_cards() -> None:
    placed = allocate([_demand("big", 20, count=2), _demand("one", 20)], 3, 24, "a10g")
    assert placed[_demand("big", 20, count=2)] == (0, 1) and placed[_demand("one", 20)] == (2,)


def test_when_spreading_strands_a_request_a_tighter_packing_is_tried() -> None:
    # Spreading puts the second pair on cards 2 and 0, leaving no card with 16 GiB; packing both pairs on
    # cards 0 and 1 leaves card 2 whole.
    pairs, single = [_demand("a", 12, count=2), _demand("b", 12, count=2)], _demand("c", 16)
    placed = allocate([*pairs, single], 3, 24, "a10g")
    assert placed[pairs[0]] == (0, 1) and placed[pairs[1]] == (0, 1) and placed[single] == (2,)


def test_overcommit_names_every_request_and_the_fixes() -> None:
    with pytest.raises(GpuOvercommitError) as caught:
        allocate([_demand("a", 16), _demand("b", 16), _demand("c", 8, replica=1)], 1, 24, "a10g")
    message = str(caught.value)
    assert message.startswith("the GPU requests do not fit 1 x a10g (24 GiB each): ")
    assert "sys/a 1 x 16 GiB, sys/b 1 x 16 GiB, sys/c#2 1 x 8 GiB (40 GiB in all" in message
    assert "add GPUs (hostGpus.count)" in message and "`gpu: false`" in message


def _stack(name: str) -> StackConfig:
    config, secrets = load_stack_file(name)
    prefix = "clinical-platform:"
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return parse_stack_config(raw, {k[len(prefix) :] for k in secrets if k.startswith(prefix)}, name)


def test_lab_assigns_its_two_a10g_without_overcommitting_one() -> None:
    config = _stack("lab")
    assert config.host_gpus is not None and (config.host_gpus.model, config.host_gpus.count) == ("a10g", 2)
    assigned = {
        (spec.name, svc.name): (svc.gpu.device_ids, svc.gpu.min_vram_gb)
        for spec in config.system_specs()
        for svc in spec.services
        if svc.gpu is not None and svc.replicas
    }
    # 40 GiB of requests, which Docker's bare "count: 1" put on GPU 0 alone.
    assert assigned == {
        ("cogstack-nlp", "medcat-service"): (("0",), 16),
        ("stenosis-detection", "worker"): (("1",), 16),
        ("claims-agent", "worker"): (("0",), 8),
    }
    per_gpu = [0, 0]
    for ids, vram in assigned.values():
        for i in ids or ():
            per_gpu[int(i)] += vram
    assert max(per_gpu) <= 24


def test_a_host_that_cannot_hold_every_request_is_one_config_error() -> None:
    raw = stack_config(
        hostGpus={"model": "a10g", "count": 1},
        overrides={"cogstack-nlp": {"services": {"medcat-service": {"gpu": True, "replicas": 2}}}},
    )
    found = problems(raw)
    assert len(found) == 1, found
    assert found[0].startswith("clinical-platform:hostGpus: the GPU requests do not fit 1 x a10g (24 GiB each): ")
    assert "cogstack-nlp/medcat-service 1 x 16 GiB, cogstack-nlp/medcat-service#2 1 x 16 GiB" in found[0]


def test_docker_host_containers_ask_for_their_own_device_ids() -> None:
    run = run_stack(
        stack_config(
            hostGpus={"model": "t4", "count": 2},
            overrides={"cogstack-nlp": {"services": {"medcat-service": {"gpu": True, "replicas": 2}}}},
        )
    )
    for index, device in ((1, "0"), (2, "1")):
        container = named(run, f"cogstack-nlp-medcat-service-{index}")
        assert container.inputs["deviceRequests"] == [
            {"driver": "nvidia", "deviceIds": [device], "capabilities": ["gpu"]}
        ]


def _gpu_service(name: str, vram: int) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        image="registry.example/gpu:1.0.0",
        port=8000,
        health=HealthCheckSpec(http_path="/health"),
        gpu=GpuSpec(min_vram_gb=vram),
    )


def test_several_gpu_services_on_one_vm_get_their_own_cards_in_compose(tmp_path: Path) -> None:
    services = on_one_vm("sys", [_gpu_service("ocr", 8), _gpu_service("vision", 16)])
    entries = {
        s.name: cloud_init.compose_service(
            s, plain_env={}, has_secret_env=False, secret_files=[], plain_files=[], publish=[]
        )
        for s in services
    }
    devices = {n: e["deploy"]["resources"]["reservations"]["devices"] for n, e in entries.items()}
    assert devices == {
        "vision": [{"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}],
        "ocr": [{"driver": "nvidia", "device_ids": ["1"], "capabilities": ["gpu"]}],
    }
    compose = tmp_path / "compose.yaml"
    compose.write_text(cloud_init.render_compose("sys", entries, []))
    result = subprocess.run(
        [tool("docker-compose"), "-f", str(compose), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed = yaml.safe_load(result.stdout)
    read_back = parsed["services"]["ocr"]["deploy"]["resources"]["reservations"]["devices"]
    assert read_back[0]["device_ids"] == ["1"]


def test_one_gpu_service_on_a_vm_keeps_a_plain_count() -> None:
    (service,) = on_one_vm("sys", [_gpu_service("ocr", 8)])
    assert service.gpu is not None and service.gpu.device_ids is None
