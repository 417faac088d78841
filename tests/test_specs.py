"""Specs: secure defaults and validation that lives in the models."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.gpu_catalog import cheapest_machine, unsatisfiable_reason
from components.specs import (
    GpuSpec,
    HealthCheckSpec,
    PostgresSpec,
    RouteSpec,
    SecretSpec,
    ServiceSpec,
    SystemSpec,
    check_image_ref,
)

HEALTH = HealthCheckSpec(http_path="/health")


def service(**changes: object) -> ServiceSpec:
    fields: dict[str, object] = {"name": "api", "image": "registry.example/api:1.0.0", "port": 8000, "health": HEALTH}
    fields.update(changes)
    return ServiceSpec.model_validate(fields)


@pytest.mark.parametrize(
    "ref",
    [
        "nginx:1.27.3-alpine",
        "registry.example:5000/team/api:2024.10.1",
        f"api@sha256:{'a' * 64}",
        f"api:1@sha256:{'b' * 64}",
    ],
)
def test_pinned_image_refs_are_accepted(ref: str) -> None:
    assert check_image_ref(ref) == ref


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nginx", "has no tag"),
        ("nginx:latest", "mutable tag 'latest'"),
        ("Nginx:1", "not an image reference"),
        ("team/api:stable", "mutable tag 'stable'"),
    ],
)
def test_unpinned_image_refs_are_rejected(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_image_ref(ref)


def test_service_defaults_are_hardened() -> None:
    svc = service()
    assert svc.user == "10001:10001"
    assert svc.read_only_root is True
    assert svc.capabilities_add == ()
    assert svc.egress is False
    assert svc.gpu is None
    assert svc.resources.memory_mb == 1024


def test_service_with_a_port_needs_a_health_check() -> None:
    with pytest.raises(ValidationError, match="listens on 8000 but has no health check"):
        service(health=None)


def test_dangerous_capabilities_are_rejected() -> None:
    with pytest.raises(ValidationError, match="SYS_ADMIN"):
        service(capabilities_add=("SYS_ADMIN",))


def test_unknown_field_is_an_error_not_ignored() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        service(prot=80)


def test_health_check_needs_exactly_one_probe() -> None:
    with pytest.raises(ValidationError, match="exactly one of http_path or command"):
        HealthCheckSpec()


def test_postgres_rejects_superuser_names() -> None:
    with pytest.raises(ValidationError, match="superuser or reserved"):
        PostgresSpec(name="db", database="app", user="postgres")


def test_system_placeholders_must_resolve() -> None:
    with pytest.raises(ValidationError, match="references undeclared postgres 'db'"):
        SystemSpec(name="demo", description="d", services=(service(env={"DB": "${postgres:db.url}"}),))
    with pytest.raises(ValidationError, match="postgres has no field 'uri'"):
        SystemSpec(
            name="demo",
            description="d",
            services=(service(env={"DB": "${postgres:db.uri}"}),),
            postgres=(PostgresSpec(name="db", database="app", user="app"),),
        )
    ok = SystemSpec(
        name="demo",
        description="d",
        services=(service(env={"DB": "${postgres:db.url}", "KEY": "${secret:key}", "HOST": "${route:web.host}"}),),
        postgres=(PostgresSpec(name="db", database="app", user="app"),),
        secrets=(SecretSpec(name="key"),),
        routes=(RouteSpec(name="web", host="web", service="api"),),
    )
    assert ok.service("api").env["DB"] == "${postgres:db.url}"


def test_routes_must_target_a_service_with_a_port() -> None:
    with pytest.raises(ValidationError, match="targets unknown service 'ui'"):
        SystemSpec(
            name="demo", description="d", services=(service(),), routes=(RouteSpec(name="w", host="w", service="ui"),)
        )
    worker = service(name="worker", port=None, health=None)
    with pytest.raises(ValidationError, match="which has no port"):
        SystemSpec(
            name="demo", description="d", services=(worker,), routes=(RouteSpec(name="w", host="w", service="worker"),)
        )


def test_route_defaults_to_proxy_authentication() -> None:
    assert RouteSpec(name="w", host="w", service="api").auth == "basic"


def test_gpu_catalog_picks_the_cheapest_fit() -> None:
    machine = cheapest_machine("aws", GpuSpec(count=1, min_vram_gb=16))
    assert machine is not None and machine.machine_type == "g4dn.xlarge" and machine.usd_per_hour == 0.526
    big = cheapest_machine("aws", GpuSpec(count=1, min_vram_gb=40))
    assert big is not None and big.machine_type == "g6e.xlarge"


@pytest.mark.parametrize(
    ("cloud", "gpu", "message"),
    [
        ("aws", GpuSpec(model="h100"), "aws offers no 'h100' GPU"),
        ("gcp", GpuSpec(model="a10g"), "gcp offers no 'a10g' GPU"),
        ("aws", GpuSpec(model="t4", count=8), "no aws machine has 8 x t4"),
        ("aws", GpuSpec(min_vram_gb=100), "with >= 100 GiB each"),
    ],
)
def test_gpu_requests_a_cloud_cannot_satisfy(cloud: str, gpu: GpuSpec, message: str) -> None:
    reason = unsatisfiable_reason(cloud, gpu)
    assert reason is not None and message in reason
