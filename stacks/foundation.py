"""The per-stack foundation (network, TLS, proxy or load balancer, tags) and the systems on it.

``deploy`` is the whole program: ``StackConfig`` -> platform for the
stack's (cloud, runtime) -> each system's spec -> components -> exports.
"""

from __future__ import annotations

import re

import pulumi

from components.cluster import KubernetesSettings
from components.edge import route_limit
from components.pki import TlsSource
from components.platform import Platform, ProxyListen, StackSettings
from components.platforms import PLATFORMS
from stacks import registry
from stacks.config import StackConfig


def resource_labels(config: StackConfig) -> dict[str, str]:
    """Governance labels on every resource: environment, stack and the stack's tags."""
    labels = {"clinical.platform/environment": config.environment, "clinical.platform/stack": config.stack}
    for key, value in config.tags.items():
        labels[f"clinical.platform/{re.sub(r'(?<!^)(?=[A-Z])', '-', key).lower()}"] = value
    if config.host_disk_encryption:
        labels["clinical.platform/disk-encryption"] = config.host_disk_encryption
    return labels


def stack_settings(config: StackConfig) -> StackSettings:
    """What the cloud and runtime may know of the stack, from its validated config."""
    key = config.secret("tlsPrivateKey")
    return StackSettings(
        name=config.stack,
        domain=config.domain,
        cidr=config.network.cidr,
        labels=resource_labels(config),
        resilience=config.protection,
        sizing=config.sizing,
        auth_username=config.auth.username,
        tls=TlsSource(
            certificate_pem=config.tls.certificate if config.tls.mode == "provided" else None,
            private_key_pem=pulumi.Output.secret(key) if key else None,
        ),
        listen=ProxyListen(config.listen.address, config.listen.https_port, config.listen.http_port),
        region=config.region,
        project=config.project,
        image_map=config.image_map,
        cloud_settings={"aws": config.aws, "gcp": config.gcp}.get(config.cloud),
        address_slots={name: registry.address_slot(name) for name in config.systems},
        kubernetes=(config.kubernetes or KubernetesSettings()) if config.runtime == "kubernetes" else None,
        kubeconfig=pulumi.Output.secret(kubeconfig) if (kubeconfig := config.secret("kubeconfig")) else None,
        route_limits=tuple(
            route_limit(route, config.domain) for spec in config.system_specs() for route in spec.routes
        ),
        allowed_source_cidrs=tuple(config.allowed_source_cidrs) if config.allowed_source_cidrs is not None else None,
    )


def build_platform(config: StackConfig) -> Platform:
    """The stack's cloud and runtime, from the one PLATFORMS table (StackConfig validated the pair)."""
    return Platform(config.stack, PLATFORMS[(config.cloud, config.runtime)], stack_settings(config))


def deploy(config: StackConfig) -> None:
    """Register every resource of the stack and export what operators need."""
    platform = build_platform(config)
    secrets = {key: pulumi.Output.secret(value.get_secret_value()) for key, value in config.secrets.items()}
    for spec in config.system_specs():
        platform.add_system(spec, secrets)
    platform.finish()
    runtime = platform.runtime
    pulumi.export("environment", config.environment)
    pulumi.export("routes", runtime.route_urls())
    pulumi.export("basicAuthUser", config.auth.username)
    pulumi.export("basicAuthPasswords", pulumi.Output.secret(runtime.credentials))
    pulumi.export("adminPasswords", pulumi.Output.secret({k: v for k, v in runtime.admin_passwords.items() if v}))
    if machines := runtime.machine_choices():
        pulumi.export("machines", machines)
    for key, value in platform.outputs().items():
        pulumi.export(key, value)
    if runtime.ca_certificate_pem is not None:
        pulumi.export("caCertificatePem", runtime.ca_certificate_pem)
