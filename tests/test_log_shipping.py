"""Log shipping (issue 15): a system with a log store gets its containers' lines there through Docker's fluentd
driver and a collector of its own, with no root, no host mount and no other system's logs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.hardening import ShippedLogs, contract, shipped_logs
from components.runtimes.docker_host.system import SIDECAR_ROLE
from components.runtimes.docker_host.workload import ROLE_LABEL
from components.runtimes.docker_on_vm.cloud_init import compose_service
from components.specs import HealthCheckSpec, LogShippingSpec, ServiceSpec, SystemSpec
from offline.harness import Captured, ProgramRun, run_program
from policy.docker_rules import check_only_proxy_publishes
from policy.rule import CheckContext
from stacks.neurocore.exporters import log_collector
from stacks.neurocore.monitoring_config import collector_conf
from stacks.registry import SystemContext
from tests.conftest import of_type

CONTAINER = "docker:index/container:Container"
FLUENTD_OPTS = {
    "fluentd-address": "tcp://127.0.0.1:24224",
    "fluentd-async": "true",
    "fluentd-buffer-limit": "8m",
    "fluentd-sub-second-precision": "true",
}


@pytest.fixture(scope="module")
def lab() -> ProgramRun:
    return run_program("lab")


def _labels(c: Captured) -> dict[str, str]:
    return {str(item["label"]): str(item["value"]) for item in c.inputs.get("labels") or []}


def _system_containers(run: ProgramRun, system: str) -> dict[str, Captured]:
    """Service name -> container; a TLS sidecar (which carries its service's label) as ``<service>-tls``."""
    return {
        _labels(c)["clinical.platform/service"] + ("-tls" if _labels(c).get(ROLE_LABEL) == SIDECAR_ROLE else ""): c
        for c in of_type(run, CONTAINER)
        if _labels(c).get("clinical.platform/system") == system and "clinical.platform/service" in _labels(c)
    }


def _api(name: str = "api", **changes: Any) -> ServiceSpec:
    return ServiceSpec(
        name=name, image="registry.example/api:1.0.0", port=8000, health=HealthCheckSpec(http_path="/"), **changes
    )


def test_every_neurocore_container_ships_to_the_collector_on_a_docker_host(lab: ProgramRun) -> None:
    shipped = _system_containers(lab, "neurocore")
    assert {"api", "api-tls", "celery-worker", "loki", "grafana", "log-collector"} <= set(shipped)
    for service, c in shipped.items():
        if service == "log-collector":
            continue
        assert c.inputs["logDriver"] == "fluentd", service
        assert c.inputs["logOpts"] == {**FLUENTD_OPTS, "tag": f"neurocore.{service}"}, service


def test_the_collector_is_hardened_and_published_on_loopback_only(lab: ProgramRun) -> None:
    c = _system_containers(lab, "neurocore")["log-collector"]
    i = c.inputs
    assert i["user"] == "65534:65534" and i["readOnly"] is True
    assert i["capabilities"] == {"drops": ["ALL"], "adds": []} and i["securityOpts"] == ["no-new-privileges:true"]
    assert not i.get("volumes"), "the collector mounts nothing of the host"
    assert i["ports"] == [{"internal": 24224, "external": 24224, "ip": "127.0.0.1"}]
    assert _labels(c)["clinical.platform/role"] == "log-collector"
    # Its own lines stay local: a collector in trouble must not feed its errors to itself.
    assert i["logDriver"] == "json-file" and i["logOpts"]["max-size"] == "50m"
    # The config reaches it through the environment, written to its tmpfs at start: the root stays read-only.
    env = dict(str(e).split("=", 1) for e in i["envs"])
    assert yaml.safe_load(env["COLLECTOR_CONFIG"]) == yaml.safe_load(collector_conf())
    assert i["entrypoints"] == ["sh", "-c"] and "exec vector --config /tmp/vector.yaml" in i["command"][0]
    assert i["healthcheck"]["tests"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8686/health"]
    # Docker publishes nothing for a container whose networks are all internal: it joins the system's egress one.
    networks = {str(n["name"]) for n in i["networksAdvanced"]}
    assert any("egress" in n for n in networks) and any("backend" in n for n in networks), networks


def test_other_systems_keep_the_default_driver(lab: ProgramRun) -> None:
    others = [c for c in of_type(lab, CONTAINER) if _labels(c).get("clinical.platform/system") != "neurocore"]
    assert len(others) > 10
    for c in others:
        assert c.inputs["logDriver"] == "json-file", c.name
        assert not any(k.startswith("fluentd") for k in c.inputs["logOpts"]), c.name


def test_the_collector_config_reads_docker_and_writes_to_the_systems_loki() -> None:
    conf = yaml.safe_load(collector_conf())
    assert conf["sources"]["docker"] == {"type": "fluent", "address": "0.0.0.0:24224"}
    assert conf["api"]["address"] == "127.0.0.1:8686" and conf["api"]["enabled"] is True
    loki = conf["sinks"]["loki"]
    assert loki["type"] == "loki" and loki["endpoint"] == "http://loki:3100" and loki["inputs"] == ["lines"]
    assert set(loki["labels"]) == {"system", "service", "container", "stream"}
    shape = conf["transforms"]["lines"]
    assert shape["inputs"] == ["docker"] and ".message = del(.log)" in shape["source"]


def test_the_contract_ships_every_service_but_the_collector() -> None:
    system = SystemSpec(
        name="demo",
        description="d",
        services=(_api(), _api("collector")),
        log_shipping=LogShippingSpec(collector="collector", host_port=24300),
    )
    logs = shipped_logs(system, system.service("api"))
    assert logs == ShippedLogs("demo", "api", 24300, "8m")
    assert shipped_logs(system, system.service("collector")) is None
    assert shipped_logs(system.model_copy(update={"log_shipping": None}), system.service("api")) is None
    h = contract(system.service("api"), logs)
    assert h.log_driver == "fluentd" and h.log_opts["fluentd-address"] == "tcp://127.0.0.1:24300"
    assert h.log_opts["tag"] == "demo.api" and h.log_opts["fluentd-async"] == "true"


def test_a_vm_compose_ships_the_same_way_and_publishes_the_collector_on_loopback() -> None:
    system = SystemSpec(
        name="demo",
        description="d",
        services=(_api(), _api("collector")),
        log_shipping=LogShippingSpec(collector="collector"),
    )
    api = compose_service(
        system.service("api"),
        plain_env={},
        has_secret_env=False,
        secret_files=[],
        plain_files=[],
        publish=[8000],
        logs=shipped_logs(system, system.service("api")),
    )
    assert api["logging"] == {"driver": "fluentd", "options": {**FLUENTD_OPTS, "tag": "demo.api"}}
    assert api["ports"] == ["8000:8000"]
    collector = compose_service(
        system.service("collector"),
        plain_env={},
        has_secret_env=False,
        secret_files=[],
        plain_files=[],
        publish=[],
        publish_loopback=[(24224, 8000)],
    )
    assert collector["ports"] == ["127.0.0.1:24224:8000"]
    assert collector["logging"] == {"driver": "json-file", "options": {"max-size": "50m", "max-file": "5"}}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"collector": "nope"}, "log_shipping.collector names unknown service 'nope'"),
        ({"collector": "api", "scale": 2}, "must be a service with a port and replicas: 1"),
        ({"collector": "worker"}, "must be a service with a port and replicas: 1"),
    ],
)
def test_a_collector_that_cannot_receive_is_refused(changes: dict[str, Any], error: str) -> None:
    scale = changes.pop("scale", 1)
    with pytest.raises(ValueError, match=error):
        SystemSpec(
            name="demo",
            description="d",
            services=(_api(replicas=scale), ServiceSpec(name="worker", image="registry.example/w:1.0.0")),
            log_shipping=LogShippingSpec(**changes),
        )


def test_the_policy_lets_a_collector_publish_on_loopback_only() -> None:
    def verdict(role: str, ip: str) -> list[str]:
        props = {
            "labels": [{"label": "clinical.platform/role", "value": role}],
            "ports": [{"internal": 24224, "external": 24224, "ip": ip}],
        }
        return list(check_only_proxy_publishes(props, CheckContext(name="c", resource_type=CONTAINER)))

    assert verdict("log-collector", "127.0.0.1") == []
    assert verdict("log-collector", "0.0.0.0") and verdict("app", "127.0.0.1")


def test_neither_collector_nor_driver_where_the_runtime_has_no_docker_daemon() -> None:
    ctx = SystemContext(environment="dev", sizing="small", domain="d", settings=None, images={}, gpus={})
    assert log_collector(ctx).user == "65534:65534" and log_collector(ctx).read_only_root
    from stacks.neurocore import Settings, build

    images = {"api": "r.example/a:1.0.0", "celery-worker": "r.example/a:1.0.0", "frontend": "r.example/f:1.0.0"}
    cluster = SystemContext("dev", "small", "d", Settings(), images, {}, host_agents=False)
    built = build(cluster)
    assert built.log_shipping is None and "log-collector" not in {s.name for s in built.services}
    host = build(SystemContext("dev", "small", "d", Settings(), images, {}))
    assert host.log_shipping == LogShippingSpec(collector="log-collector")
