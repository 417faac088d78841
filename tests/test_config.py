"""StackConfig: every kind of bad input gets one line naming the key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from offline.harness import run_program
from stacks.config import ConfigError
from tests.conftest import BASE, engine_config, parse, problems, stack_config

GOOD_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_base_config_is_valid() -> None:
    config = parse(BASE)
    assert config.cloud == "onprem" and config.runtime == "docker"
    assert config.enforcement == "advisory"
    assert config.network.cidr == "10.42.0.0/16"


def test_prod_defaults_to_mandatory_enforcement() -> None:
    raw = stack_config(environment="prod", tls={"mode": "provided", "certificate": GOOD_CERT}, tlsPrivateKey="k")
    config = parse(raw, secret_keys={"tlsPrivateKey"}, stack="prod")
    assert config.enforcement == "mandatory" and config.protection.multi_az and config.protection.protect


def test_environment_defaults_to_a_known_stack_name() -> None:
    assert parse(stack_config(environment=None), stack="local").environment == "local"


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"systems": ["cogstak-nlp"]}, "clinical-platform:systems[0]", "did you mean 'cogstack-nlp'?"),
        ({"systems": ["cogstack-nlp", "radiology"]}, "clinical-platform:systems[1]", "unknown system 'radiology'"),
        ({"systems": []}, "clinical-platform:systems", "at least 1 item"),
        ({"cloud": "azure"}, "clinical-platform:cloud", "'onprem', 'aws' or 'gcp'"),
        ({"runtime": "nomad"}, "clinical-platform:runtime", "'docker' or 'kubernetes'"),
        ({"domain": "Not A Domain"}, "clinical-platform:domain", "is not a DNS domain"),
        ({"domain": "localhost"}, "clinical-platform:domain", "is not a DNS domain"),
        ({"network": {"cidr": "10.0.0.0/33"}}, "clinical-platform:network.cidr", "is not an IPv4 CIDR"),
        ({"network": {"cidr": "10.0.0.1/16"}}, "clinical-platform:network.cidr", "has host bits set"),
        ({"network": {"cidr": "8.8.8.0/24"}}, "clinical-platform:network.cidr", "is not a private range"),
        ({"network": {"cidr": "10.0.0.0/8"}}, "clinical-platform:network.cidr", "between /16 and /24"),
        ({"network": {"cdir": "10.0.0.0/16"}}, "clinical-platform:network.cdir", "unknown key"),
        ({"sizing": "huge"}, "clinical-platform:sizing", "'small', 'medium' or 'large'"),
        ({"tags": {"owner": "me"}}, "clinical-platform:tags", "missing required tags ['dataClassification']"),
        ({"tags": {"owner": "me", "dataClassification": "secret"}}, "clinical-platform:tags", "must be one of phi"),
        ({"domian": "x.org"}, "clinical-platform:domian", "did you mean 'domain'?"),
        (
            {"policy": {"overrides": {"docker-image-pined": "advisory"}}},
            "clinical-platform:policy.overrides",
            "did you mean 'docker-image-pinned'?",
        ),
        (
            {"policy": {"enforcement": "strict"}},
            "clinical-platform:policy.enforcement",
            "'advisory', 'mandatory' or 'disabled'",
        ),
        ({"tls": {"mode": "provided"}}, "clinical-platform:tls", "needs certificate"),
        ({"environment": "qa"}, "clinical-platform:environment", "'local', 'dev', 'preview', 'staging' or 'prod'"),
        ({"environment": "prod"}, "clinical-platform:", "tls.mode 'self-signed' is for local stacks"),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-service": {"replicas": -1}}}}},
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.replicas",
            "greater than or equal to 0",
        ),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-service": {"memoryMb": 10**9}}}}},
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.memoryMb",
            "less than or equal to 2097152",
        ),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-service": {"cpus": 0}}}}},
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.cpus",
            "greater than 0",
        ),
        (
            {
                "overrides": {
                    "cogstack-nlp": {"services": {"medcat-service": {"image": "cogstacksystems/medcat-service:latest"}}}
                }
            },
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.image",
            "mutable tag 'latest'",
        ),
        (
            {
                "overrides": {
                    "cogstack-nlp": {"services": {"medcat-service": {"image": "cogstacksystems/medcat-service"}}}
                }
            },
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.image",
            "has no tag",
        ),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-servce": {"replicas": 2}}}}},
            "clinical-platform:overrides.cogstack-nlp.services.medcat-servce",
            "did you mean 'medcat-service'?",
        ),
        (
            {"overrides": {"cogstack-nlp": {"settings": {"modelPak": "x.zip"}}}},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPak",
            "unknown setting; known settings",
        ),
        (
            {"overrides": {"cogstack-nlp": {"settings": {"modelPack": "../../etc/passwd"}}}},
            "clinical-platform:overrides.cogstack-nlp.settings.modelPack",
            "should match pattern",
        ),
        ({"overrides": {"stenosis": {}}}, "clinical-platform:overrides.stenosis", "not an enabled system"),
        (
            {"overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": True}}}}},
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.gpu",
            "the Docker host has no GPUs",
        ),
        (
            {
                "hostGpus": {"model": "t4", "count": 1},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"model": "a100", "count": 1}}}}},
            },
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.gpu",
            "the host has t4 GPUs, not a100",
        ),
        (
            {
                "hostGpus": {"model": "t4", "count": 1},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"count": 2}}}}},
            },
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.gpu",
            "asks for 2 GPUs but the host has 1",
        ),
        (
            {
                "hostGpus": {"model": "t4", "count": 1},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": {"minVramGb": 40}}}}},
            },
            "clinical-platform:overrides.cogstack-nlp.services.medcat-service.gpu",
            "16 GiB, below the 40 GiB",
        ),
        (
            {
                "hostGpus": {"model": "voodoo5", "count": 1},
                "overrides": {"cogstack-nlp": {"services": {"medcat-service": {"gpu": True}}}},
            },
            # The host's own model is checked where it is set, before any service asks for it.
            "clinical-platform:hostGpus.model",
            "unknown GPU model 'voodoo5'",
        ),
    ],
)
def test_bad_input_gets_one_line_naming_the_key(changes: dict[str, Any], key: str, expected: str) -> None:
    found = problems(stack_config(**changes))
    assert len(found) == 1, found
    assert found[0].startswith(key), found
    assert expected in found[0], found


def test_plaintext_secret_is_rejected_with_the_command_to_fix_it() -> None:
    raw = stack_config(tls={"mode": "provided", "certificate": GOOD_CERT}, tlsPrivateKey="-----BEGIN PRIVATE KEY-----")
    found = problems(raw)
    assert found == [
        "clinical-platform:tlsPrivateKey: stored in plaintext; remove it and run "
        "`pulumi config set --secret tlsPrivateKey <value>`"
    ]
    assert problems(raw, secret_keys={"tlsPrivateKey"}) == []


def test_provided_certificate_needs_its_key() -> None:
    found = problems(stack_config(tls={"mode": "provided", "certificate": GOOD_CERT}))
    assert len(found) == 1 and found[0].startswith("clinical-platform:tlsPrivateKey: required")


def test_every_problem_is_reported_at_once() -> None:
    found = problems(stack_config(cloud="azure", domain="bad domain", systems=["nope"], extra=1))
    keys = sorted(line.split(": ")[0] for line in found)
    assert keys == [
        "clinical-platform:cloud",
        "clinical-platform:domain",
        "clinical-platform:extra",
        "clinical-platform:systems[0]",
    ]


def test_gpu_override_on_a_host_with_gpus_is_applied() -> None:
    raw = stack_config(
        hostGpus={"model": "a10g", "count": 3},
        overrides={"cogstack-nlp": {"services": {"medcat-service": {"gpu": True, "replicas": 3}}}},
    )
    spec = parse(raw).system_specs()[0]
    service = spec.service("medcat-service")
    assert service.gpu is not None and service.gpu.count == 1 and service.gpu.min_vram_gb == 16
    # Three 16 GiB replicas on 24 GiB cards: one card each (two would not fit on one).
    assert service.gpu.device_ids == ("0", "1", "2")
    assert service.replicas == 3
    assert service.env["APP_CUDA_DEVICE_COUNT"] == "1" and service.env["APP_TORCH_THREADS"] == "0"


def test_bad_config_registers_nothing() -> None:
    with pytest.raises(ConfigError) as caught:
        run_program("dev", config=engine_config(stack_config(systems=["cogstak-nlp"])), secret_keys=set())
    assert caught.value.problems == [
        "clinical-platform:systems[0]: unknown system 'cogstak-nlp'; did you mean 'cogstack-nlp'?"
    ]
    # RunError: the engine prints the message without a traceback.
    import pulumi

    assert isinstance(caught.value, pulumi.RunError)


@pytest.mark.parametrize(
    "expires",
    ["2027-06-30", "2027-06-30 00:00:00 +0000 UTC", "2027-06-30T00:00:00Z"],
)
def test_waiver_dates_are_read_in_every_form_the_cli_passes(expires: str) -> None:
    # An unquoted YAML date reaches the program from the real CLI in Go's time format.
    waiver = {
        "rule": "docker-non-root",
        "resource": "x-*",
        "reason": "a compensating control is in place",
        "approvedBy": "officer@hospital.example",
        "expires": expires,
    }
    config = parse(stack_config(policy={"waivers": [waiver]}))
    assert str(config.policy.waivers[0].expires) == "2027-06-30"
    bad = problems(stack_config(policy={"waivers": [{**waiver, "expires": "2027-06-30 12:00:00 +0000 UTC"}]}))
    assert bad and "expires" in bad[0]


def test_stack_files_pass_dates_the_way_the_cli_does() -> None:
    from offline.harness import load_stack_file

    config, _ = load_stack_file("local")
    assert "2027-06-30 00:00:00 +0000 UTC" in config["clinical-platform:policy"]


def test_image_map_replaces_every_container_image_and_rejects_unpinned_references() -> None:
    from tests.conftest import of_type, run_stack

    nginx = "nginxinc/nginx-unprivileged:1.27.3-alpine"
    run = run_stack(stack_config(imageMap={nginx: "registry.hospital.example/mirror/nginx:1.27.3"}))
    images = {c.inputs["image"] for c in of_type(run, "docker:index/container:Container")}
    pulled = {c.inputs["name"] for c in of_type(run, "docker:index/remoteImage:RemoteImage")}
    assert "registry.hospital.example/mirror/nginx:1.27.3" in images & pulled and nginx not in images | pulled
    bad = problems(stack_config(imageMap={nginx: "mirror/nginx:latest"}))
    assert bad == [
        f"clinical-platform:imageMap[{nginx}]: image 'mirror/nginx:latest' uses the mutable tag 'latest'; "
        "pin it to a version or a digest"
    ]


def test_proxy_listen_address_and_ports_reach_the_published_ports() -> None:
    from tests.conftest import named, run_stack

    run = run_stack(stack_config(listen={"address": "127.0.0.1", "httpsPort": 8443, "httpPort": 8080}))
    ports = named(run, "dev-proxy").inputs["ports"]
    assert {(p["internal"], p["external"], p["ip"]) for p in ports} == {
        (8443, 8443, "127.0.0.1"),
        (8000, 8080, "127.0.0.1"),
    }
    assert problems(stack_config(listen={"address": "localhost"})) == [
        "clinical-platform:listen.address: 'localhost' is not an IPv4 address; use e.g. 0.0.0.0 or 10.20.0.5"
    ]
    assert problems(stack_config(listen={"httpsPort": 80})) == [
        "clinical-platform:listen: httpsPort and httpPort must differ"
    ]
