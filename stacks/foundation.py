"""The per-stack foundation (network, TLS, proxy or load balancer, tags) and the systems on it.

``deploy`` is the whole program: ``StackConfig`` -> platform for the
stack's (cloud, runtime) -> each system's spec -> components -> exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

import pulumi

from components.docker.system import DockerSystem
from components.onprem.docker_host import DockerHostPlatform, TlsSource
from components.specs import SystemSpec
from stacks.config import StackConfig


class Platform(Protocol):
    """What every (cloud, runtime) implementation offers the stack."""

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> DockerSystem: ...

    def finish(self) -> object: ...


def resource_labels(config: StackConfig) -> dict[str, str]:
    """Governance labels on every resource: environment, stack and the stack's tags."""
    labels = {"clinical.platform/environment": config.environment, "clinical.platform/stack": config.stack}
    for key, value in config.tags.items():
        labels[f"clinical.platform/{re.sub(r'(?<!^)(?=[A-Z])', '-', key).lower()}"] = value
    return labels


def build_platform(config: StackConfig) -> DockerHostPlatform:
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
            protect_data=config.is_prod,
        )
    raise NotImplementedError(f"{config.cloud}+{config.runtime}")  # StackConfig rejects this first


def deploy(config: StackConfig) -> None:
    """Register every resource of the stack and export what operators need."""
    platform = build_platform(config)
    secrets = {key: pulumi.Output.secret(value.get_secret_value()) for key, value in config.secrets.items()}
    for spec in config.system_specs():
        platform.add_system(spec, secrets)
    platform.finish()
    pulumi.export("environment", config.environment)
    pulumi.export("routes", {name: [f"https://{r.fqdn}" for r in s.routes] for name, s in platform.systems.items()})
    pulumi.export("basicAuthUser", config.auth.username)
    pulumi.export("basicAuthPasswords", pulumi.Output.secret(platform.credentials))
    if platform.ca_certificate_pem is not None:
        pulumi.export("caCertificatePem", platform.ca_certificate_pem)
