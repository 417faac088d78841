"""The hardening contract: every runtime's lowering agrees with it on every field, for generated specs.

The Docker-host lowering (``docker.Container`` arguments) and the Docker-on-VM
lowering (a compose entry) are read back into contract terms and compared
with ``contract(spec)``; hypothesis generates the specs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.hardening import DANGEROUS_CAPABILITIES, Hardening, Probe, contract
from components.runtimes.docker_host.workload import container_hardening
from components.runtimes.docker_on_vm.cloud_init import compose_service
from components.specs import GpuSpec, HealthCheckSpec, ResourcesSpec, ServiceSpec
from policy import docker_rules

SAFE_CAPS = ("CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE", "DAC_OVERRIDE", "FOWNER")
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_$./", min_size=1, max_size=12)
health = st.one_of(
    st.none(),
    st.builds(
        HealthCheckSpec,
        http_path=st.sampled_from(["/health", "/ready", "/api/health"]),
        interval_s=st.integers(1, 3600),
        timeout_s=st.integers(1, 600),
        retries=st.integers(1, 20),
        start_period_s=st.integers(0, 3600),
    ),
    st.builds(
        HealthCheckSpec,
        command=st.lists(words, min_size=1, max_size=4).map(tuple),
        interval_s=st.integers(1, 3600),
        start_period_s=st.integers(0, 3600),
    ),
)


@st.composite
def services(draw: st.DrawFn) -> ServiceSpec:
    probe = draw(health)
    return ServiceSpec(
        name="svc",
        image="registry.example/app:1.0.0",
        port=8000 if probe is not None else None,
        health=probe,
        resources=ResourcesSpec(
            cpus=draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 0.125])),
            memory_mb=draw(st.integers(64, 65536)),
            shm_mb=draw(st.integers(64, 8192)),
        ),
        gpu=draw(st.one_of(st.none(), st.builds(GpuSpec, count=st.integers(1, 4)))),
        user=draw(st.sampled_from([None, "10001:10001", "101:101", "0:0"])),
        read_only_root=draw(st.booleans()),
        tmpfs=tuple(draw(st.lists(st.sampled_from(["/tmp", "/run", "/var/cache/nginx"]), unique=True, max_size=3))),
        capabilities_add=tuple(draw(st.lists(st.sampled_from(SAFE_CAPS), unique=True, max_size=3))),
        kind=draw(st.sampled_from(["service", "job"])),
    )


def _seconds(value: str) -> int:
    """Go's ``1h2m3s`` and compose's ``63s`` alike."""
    parts = dict((unit, int(n)) for n, unit in re.findall(r"(\d+)([hms])", value))
    return parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def _from_docker(args: dict[str, Any]) -> Hardening:
    check = args["healthcheck"]
    devices = args["device_requests"] or []
    return Hardening(
        user=args["user"],
        read_only_root=args["read_only"],
        cap_drop=tuple(args["capabilities"].drops),
        cap_add=tuple(args["capabilities"].adds),
        no_new_privileges="no-new-privileges:true" in args["security_opts"],
        memory_mb=args["memory"],
        swap_mb=args["memory_swap"],
        cpus=float(args["cpus"]),
        shm_mb=args["shm_size"],
        init=args["init"],
        restart=args["restart"],
        tmpfs=dict(args["tmpfs"]),
        log_driver=args["log_driver"],
        # The Docker host adds its label list to json-file lines (for a host's own agent), not a contract field.
        log_opts={k: v for k, v in args["log_opts"].items() if k != "labels"},
        probe=Probe(
            tuple(check.tests[1:]),
            _seconds(check.interval),
            _seconds(check.timeout),
            check.retries,
            _seconds(check.start_period),
        )
        if check
        else None,
        gpus=sum(d.count for d in devices),
    )


def _from_compose(entry: dict[str, Any]) -> Hardening:
    check = entry.get("healthcheck")
    devices = entry.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return Hardening(
        user=entry.get("user"),
        read_only_root=entry["read_only"],
        cap_drop=tuple(entry["cap_drop"]),
        cap_add=tuple(entry.get("cap_add", ())),
        no_new_privileges="no-new-privileges:true" in entry["security_opt"],
        memory_mb=int(entry["mem_limit"].removesuffix("m")),
        swap_mb=int(entry["memswap_limit"].removesuffix("m")),
        cpus=float(entry["cpus"]),
        shm_mb=int(entry["shm_size"].removesuffix("m")),
        init=entry["init"],
        restart=entry["restart"],
        tmpfs=dict(t.split(":", 1) for t in entry["tmpfs"]),
        log_driver=entry["logging"]["driver"],
        log_opts=dict(entry["logging"]["options"]),
        # compose doubles `$` so that it passes them through; the container sees them single
        probe=Probe(
            tuple(t.replace("$$", "$") for t in check["test"][1:]),
            _seconds(check["interval"]),
            _seconds(check["timeout"]),
            check["retries"],
            _seconds(check["start_period"]),
        )
        if check
        else None,
        gpus=sum(d["count"] for d in devices),
    )


@settings(max_examples=300, deadline=None)
@given(services())
def test_docker_arguments_and_compose_entry_both_carry_the_contract(spec: ServiceSpec) -> None:
    expected = contract(spec)
    assert _from_docker(container_hardening(expected)) == expected
    compose = compose_service(
        spec, plain_env={}, has_secret_env=False, secret_files=[], plain_files=[], publish=[], image_map=None
    )
    assert _from_compose(compose) == expected


def test_the_contract_is_the_secure_default() -> None:
    h = contract(ServiceSpec(name="api", image="registry.example/api:1.0.0"))
    assert h.user == "10001:10001" and h.read_only_root and h.cap_drop == ("ALL",) and h.cap_add == ()
    assert h.no_new_privileges and h.swap_mb == h.memory_mb and h.restart == "unless-stopped" and h.gpus == 0
    assert h.tmpfs == {"/tmp": "rw,noexec,nosuid,size=256m"} and h.log_opts == {"max-size": "50m", "max-file": "5"}


def test_a_lowering_that_drops_a_field_is_caught() -> None:
    spec = ServiceSpec(name="api", image="registry.example/api:1.0.0", capabilities_add=("CHOWN",))
    args = container_hardening(contract(spec))
    args["security_opts"] = []
    assert _from_docker(args) != contract(spec)


def test_specs_and_policy_share_one_dangerous_capability_list() -> None:
    assert docker_rules.DANGEROUS_CAPS is DANGEROUS_CAPABILITIES
    for cap in DANGEROUS_CAPABILITIES:
        with pytest.raises(ValueError, match="break container isolation"):
            ServiceSpec(name="api", image="registry.example/api:1.0.0", capabilities_add=(cap,))
