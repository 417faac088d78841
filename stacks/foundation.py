"""The per-stack foundation (network, TLS, proxy or load balancer, tags) and the systems on it.

``deploy`` is the whole program: ``StackConfig`` -> platform for the
stack's (cloud, runtime) -> each system's spec -> components -> exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

import pulumi

from components.aws.docker_platform import AwsDockerPlatform, AwsSettings
from components.onprem.docker_host import DockerHostPlatform, TlsSource
from components.specs import SystemSpec
from stacks.config import AwsConfig, StackConfig


class Platform(Protocol):
    """What every (cloud, runtime) implementation offers the stack."""

    credentials: dict[str, pulumi.Output[str]]
    ca_certificate_pem: pulumi.Input[str] | None

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> object: ...

    def finish(self) -> object: ...

    def route_urls(self) -> dict[str, list[str]]: ...

    @property
    def admin_passwords(self) -> dict[str, dict[str, pulumi.Output[str]]]: ...

    def machine_choices(self) -> dict[str, dict[str, object]]: ...


def resource_labels(config: StackConfig) -> dict[str, str]:
    """Governance labels on every resource: environment, stack and the stack's tags."""
    labels = {"clinical.platform/environment": config.environment, "clinical.platform/stack": config.stack}
    for key, value in config.tags.items():
        labels[f"clinical.platform/{re.sub(r'(?<!^)(?=[A-Z])', '-', key).lower()}"] = value
    if config.host_disk_encryption:
        labels["clinical.platform/disk-encryption"] = config.host_disk_encryption
    return labels


def build_platform(config: StackConfig) -> Platform:
    """The foundation for the stack's cloud and runtime (validated as supported by StackConfig)."""
    if (config.cloud, config.runtime) == ("onprem", "docker"):
        key = config.secret("tlsPrivateKey")
        return DockerHostPlatform(
            config.stack,
            domain=config.domain,
            cidr=config.network.cidr,
            system_names=config.systems,
            labels=resource_labels(config),
            tls=TlsSource(
                certificate_pem=config.tls.certificate if config.tls.mode == "provided" else None,
                private_key_pem=pulumi.Output.secret(key) if key else None,
            ),
            auth_username=config.auth.username,
            protect_data=config.protection.protect,
            image_map=config.image_map,
            listen=(config.listen.address, config.listen.https_port, config.listen.http_port),
        )
    if (config.cloud, config.runtime) == ("aws", "docker"):
        aws = config.aws or AwsConfig()
        assert config.region is not None  # StackConfig requires it for aws
        return AwsDockerPlatform(
            config.stack,
            domain=config.domain,
            cidr=config.network.cidr,
            settings=AwsSettings(
                region=config.region, zones=aws.zones, certificate_arn=aws.certificate_arn,
                hosted_zone_id=aws.hosted_zone_id, waf=aws.waf, spot=aws.spot,
            ),
            labels=resource_labels(config),
            sizing=config.sizing,
            resilience=config.protection,
            auth_username=config.auth.username, image_map=config.image_map,
        )  # fmt: skip
    raise NotImplementedError(f"{config.cloud}+{config.runtime}")  # StackConfig rejects this first


def deploy(config: StackConfig) -> None:
    """Register every resource of the stack and export what operators need."""
    platform = build_platform(config)
    secrets = {key: pulumi.Output.secret(value.get_secret_value()) for key, value in config.secrets.items()}
    for spec in config.system_specs():
        platform.add_system(spec, secrets)
    platform.finish()
    pulumi.export("environment", config.environment)
    pulumi.export("routes", platform.route_urls())
    pulumi.export("basicAuthUser", config.auth.username)
    pulumi.export("basicAuthPasswords", pulumi.Output.secret(platform.credentials))
    pulumi.export("adminPasswords", pulumi.Output.secret({k: v for k, v in platform.admin_passwords.items() if v}))
    if machines := platform.machine_choices():
        pulumi.export("machines", machines)
    if platform.ca_certificate_pem is not None:
        pulumi.export("caCertificatePem", platform.ca_certificate_pem)
