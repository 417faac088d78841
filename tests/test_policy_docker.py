"""Docker policy rules, each on compliant and non-compliant resources, through the engine's policy objects."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from components.runtimes.docker_host.proxy import ProxyRoute, render_nginx_conf
from policy import ALL_POLICIES, RULE_NAMES
from policy.docker_rules import CONTAINER, REMOTE_IMAGE

POLICIES = {p.name: p for p in ALL_POLICIES}


def run_policy(
    name: str, props: dict[str, Any], *, resource_type: str = CONTAINER, secret_outputs: tuple[str, ...] = ()
) -> list[str]:
    """Violations one policy reports for one resource, as the analyzer would call it."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs))
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), f"urn:test::{name}", "res", opts, None)
    found: list[str] = []
    policy = POLICIES[name]
    assert isinstance(policy, ResourceValidationPolicy)
    validate: Any = policy.validate
    validate(args, lambda message, urn=None: found.append(message))
    return found


def labels(role: str) -> list[dict[str, str]]:
    return [{"label": "clinical.platform/role", "value": role}]


HARDENED: dict[str, Any] = {
    "image": "nginx:1.27.3",
    "securityOpts": ["no-new-privileges:true"],
    "capabilities": {"drops": ["ALL"]},
    "memory": 256,
    "networksAdvanced": [{"name": "sys-backend", "aliases": ["api"]}],
    "logOpts": {"max-size": "50m"},
    "user": "101:101",
    "healthcheck": {"tests": ["CMD", "true"]},
    "labels": labels("app"),
}


def test_every_policy_has_metadata_the_officer_needs() -> None:
    assert len(ALL_POLICIES) == len(RULE_NAMES) >= 9
    for p in ALL_POLICIES:
        assert p.severity is not None and p.remediation_steps and p.framework is not None
        assert p.framework.reference and p.framework.reference.startswith("45 CFR 164.3")
        assert p.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"ports": [{"internal": 5432, "external": 5432}], "labels": labels("data")}, "publishes PostgreSQL port 5432"),
        ({"ports": [{"internal": 6379}]}, "publishes Redis port 6379 on host port random"),
        (
            {"ports": [{"internal": 7000, "external": 7000}], "labels": labels("data")},
            "publishes data service port 7000",
        ),
        ({"publishAllPorts": True}, "publishAllPorts"),
    ],
)
def test_no_published_data_port(props: dict[str, Any], expected: str) -> None:
    found = run_policy("docker-no-published-data-port", props)
    assert len(found) == 1 and expected in found[0]


def test_no_published_data_port_passes_a_private_data_service() -> None:
    assert run_policy("docker-no-published-data-port", {"labels": labels("data"), "ports": []}) == []
    assert (
        run_policy(
            "docker-no-published-data-port", {"labels": labels("proxy"), "ports": [{"internal": 8443, "external": 443}]}
        )
        == []
    )


def test_only_proxy_publishes_ports() -> None:
    assert (
        run_policy(
            "docker-only-proxy-publishes-ports",
            {"labels": labels("proxy"), "ports": [{"internal": 8443, "external": 443}]},
        )
        == []
    )
    found = run_policy(
        "docker-only-proxy-publishes-ports", {"labels": labels("app"), "ports": [{"internal": 5000, "external": 5000}]}
    )
    assert found == ["res publishes port 5000 on host port 5000; route it through the TLS proxy"]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"privileged": True}, "runs privileged"),
        ({"networkMode": "host"}, "networkMode=host"),
        ({"pidMode": "host"}, "pidMode=host"),
        ({"capabilities": {"adds": ["CAP_SYS_ADMIN"]}}, "['SYS_ADMIN']"),
        ({"securityOpts": ["seccomp:unconfined"]}, "seccomp:unconfined"),
        (
            {"volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}]},
            "gives root on the host",
        ),
        ({"devices": [{"hostPath": "/dev/nvidia0"}]}, "maps host device /dev/nvidia0"),
    ],
)
def test_no_privileged_container(props: dict[str, Any], expected: str) -> None:
    found = run_policy("docker-no-privileged-container", props)
    assert len(found) == 1 and expected in found[0], found


def test_no_privileged_container_passes_gpu_device_requests() -> None:
    props = {**HARDENED, "deviceRequests": [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]}
    assert run_policy("docker-no-privileged-container", props) == []


OBSERVER_LABELS = [*labels("app"), {"label": "clinical.platform/observes-gpus", "value": "true"}]
ALL_GPUS_UTILITY = [{"driver": "nvidia", "count": -1, "capabilities": ["utility"]}]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"labels": OBSERVER_LABELS, "deviceRequests": ALL_GPUS_UTILITY}, None),
        ({"deviceRequests": ALL_GPUS_UTILITY}, "requests every GPU of the host without declaring itself"),
        (
            {"deviceRequests": [{"driver": "nvidia", "count": -1, "capabilities": ["gpu"]}]},
            "requests every GPU of the host without declaring itself",
        ),
        (
            {"labels": OBSERVER_LABELS, "deviceRequests": [{"driver": "nvidia", "count": -1, "capabilities": ["gpu"]}]},
            "observes every GPU with capabilities ['gpu']; an observer needs only ['utility']",
        ),
        (
            {
                "labels": OBSERVER_LABELS,
                "deviceRequests": [{"driver": "nvidia", "count": -1, "capabilities": ["utility", "compute"]}],
            },
            "observes every GPU with capabilities ['compute', 'utility']",
        ),
    ],
)
def test_only_a_declared_gpu_observer_may_request_every_gpu_for_utility(
    extra: dict[str, Any], expected: str | None
) -> None:
    found = run_policy("docker-no-privileged-container", {**HARDENED, **extra})
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("resource_type", "props", "ok"),
    [
        (CONTAINER, {"image": "nginx:1.27.3"}, True),
        (CONTAINER, {"image": "sha256:" + "a" * 64}, True),
        (CONTAINER, {"image": "nginx:latest"}, False),
        (CONTAINER, {"image": "nginx"}, False),
        (REMOTE_IMAGE, {"name": "postgres:16.6"}, True),
        (REMOTE_IMAGE, {"name": "postgres"}, False),
    ],
)
def test_image_pinned(resource_type: str, props: dict[str, Any], ok: bool) -> None:
    assert (run_policy("docker-image-pinned", props, resource_type=resource_type) == []) is ok


def proxy(conf: str) -> dict[str, Any]:
    return {"labels": labels("proxy"), "uploads": [{"file": "/etc/nginx/nginx.conf", "content": conf}]}


def test_proxy_tls_passes_the_rendered_config() -> None:
    conf = render_nginx_conf([ProxyRoute("api.example.org", "sys-api", 5000, "/etc/nginx/auth/sys.htpasswd", 50, 600)])
    assert run_policy("docker-proxy-tls12", proxy(conf)) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c.replace("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;"),
            "allows ['TLSv1', 'TLSv1.1']",
        ),
        (lambda c: c.replace("    ssl_protocols TLSv1.2 TLSv1.3;\n", ""), "without ssl_protocols"),
        (
            lambda c: c.replace(
                "location / { return 301 https://$host$request_uri; }", "location / { proxy_pass http://x; }"
            ),
            "does not only redirect",
        ),
    ],
)
def test_proxy_tls_fails_weakened_configs(mutate: Any, expected: str) -> None:
    conf = render_nginx_conf([ProxyRoute("api.example.org", "sys-api", 5000, None, 50, 600)])
    found = run_policy("docker-proxy-tls12", proxy(mutate(conf)))
    assert len(found) == 1 and expected in found[0], found


def test_proxy_without_readable_config_fails_and_apps_are_ignored() -> None:
    assert "without an nginx configuration" in run_policy("docker-proxy-tls12", {"labels": labels("proxy")})[0]
    assert run_policy("docker-proxy-tls12", {"labels": labels("app")}) == []


def test_no_plaintext_secret_env() -> None:
    rule = "docker-no-plaintext-secret-env"
    assert run_policy(rule, {"envs": ["DB_PASSWORD=Zx9...generated"]}, secret_outputs=("envs",)) == []
    assert run_policy(rule, {"envs": ["LOG_LEVEL=INFO", "PASSWORD_FILE=/run/secrets/pw"]}) == []
    found = run_policy(rule, {"envs": ["DB_PASSWORD=generated-but-not-marked"]})
    assert found == ["res: DB_PASSWORD in env but envs is not marked secret, so state would hold them in plaintext"]
    found = run_policy(
        rule, {"envs": ["ADMIN_PASSWORD=admin", "SECRET_KEY=<generate-random-secret-key>"]}, secret_outputs=("envs",)
    )
    assert len(found) == 2 and all("default or placeholder" in f for f in found)


def test_container_hardened() -> None:
    assert run_policy("docker-container-hardened", HARDENED) == []
    found = run_policy("docker-container-hardened", {"image": "x:1"})
    # no-new-privileges, capabilities, memory, default bridge (log rotation is docker-container-logs)
    assert len(found) == 4 and "default bridge" in found[3]
    # network_mode on a network also listed with aliases: the daemon drops the aliases.
    lost = run_policy(
        "docker-container-hardened",
        {**HARDENED, "networkMode": "sys-backend"},
    )
    assert len(lost) == 1 and "aliases" in lost[0]
    assert run_policy("docker-container-hardened", {**HARDENED, "networkMode": "bridge"})[0].endswith(
        "(networks_advanced)"
    )


def test_non_root_and_healthcheck() -> None:
    assert run_policy("docker-non-root", HARDENED) == []
    assert "runs as root" in run_policy("docker-non-root", {**HARDENED, "user": "0:0"})[0]
    assert "image default user" in run_policy("docker-non-root", {**HARDENED, "user": None})[0]
    assert run_policy("docker-healthcheck", HARDENED) == []
    assert run_policy("docker-healthcheck", {**HARDENED, "healthcheck": None})
    job = {**HARDENED, "healthcheck": None, "labels": [{"label": "clinical.platform/kind", "value": "job"}]}
    assert run_policy("docker-healthcheck", job) == []


def test_rules_ignore_other_resource_types() -> None:
    assert (
        run_policy("docker-no-privileged-container", {"privileged": True}, resource_type="aws:s3/bucket:Bucket") == []
    )


def test_unknown_value_during_preview_is_reported_the_engine_way() -> None:
    """The analyzer turns UnknownValueError into an advisory "can't run during preview" note."""
    from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

    with pytest.raises(UnknownValueError):
        run_policy("docker-no-privileged-container", {"privileged": UNKNOWN_BOOLEAN_VALUE})
