"""``DockerHostRuntime``: every system's containers on one Docker host, behind one TLS proxy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pulumi
import pulumi_random as random

from components.addressing import SystemSubnets
from components.edge import restricted
from components.htpasswd import htpasswd_line
from components.pki import PrivateCertificateAuthority
from components.platform import ProxyListen, StackSettings
from components.runtimes.docker_host.network import bridge_network
from components.runtimes.docker_host.proxy import TlsProxy
from components.runtimes.docker_host.system import DockerSystem
from components.specs import SystemSpec

AUTH_DIR = "/etc/nginx/auth"


class HostCloud(Protocol):
    """What a cloud gives a single Docker host: certificates, an address plan and the proxy's bind address."""

    ca: PrivateCertificateAuthority
    ca_certificate_pem: pulumi.Input[str]
    certificate_pem: pulumi.Input[str]
    private_key_pem: pulumi.Input[str]
    edge_subnet: str
    proxy_listen: ProxyListen

    def system_subnets(self, system: str) -> SystemSubnets: ...


class DockerHostRuntime:
    """The ``docker`` runtime on one host.

    Creates the edge network (the only routable one, holding only the
    proxy), each system on its own isolated networks with its own data
    stores, and finally the TLS proxy with one generated basic-auth
    credential per system that needs one. Call ``add_system`` for each
    system, then ``finish``.
    """

    def __init__(self, name: str, stack: StackSettings, cloud: HostCloud, parent: pulumi.Resource) -> None:
        self.stack_name, self.domain, self.labels = name, stack.domain, dict(stack.labels)
        self.auth_username, self.protect_data = stack.auth_username, stack.resilience.protect
        self.image_map = dict(stack.image_map)
        self.allowed_source_cidrs = restricted(stack.allowed_source_cidrs)
        self.cloud, self.parent = cloud, parent
        self.edge = bridge_network(f"{name}-edge", cloud.edge_subnet, role="edge", labels=self.labels, parent=parent)
        self.ca_certificate_pem: pulumi.Input[str] | None = cloud.ca_certificate_pem
        self.systems: dict[str, DockerSystem] = {}
        self.credentials: dict[str, pulumi.Output[str]] = {}

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> DockerSystem:
        """Deploy one system on its own networks."""
        system = DockerSystem(
            spec.name,
            spec,
            domain=self.domain,
            subnets=self.cloud.system_subnets(spec.name),
            labels=self.labels,
            config_secrets=config_secrets,
            auth_file_dir=AUTH_DIR,
            certificate_authority=self.cloud.ca,
            protect_data=self.protect_data,
            image_map=self.image_map,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )
        self.systems[spec.name] = system
        return system

    @property
    def admin_passwords(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """Generated administrator passwords per system."""
        return {name: system.admin_passwords for name, system in self.systems.items() if system.admin_passwords}

    def machine_choices(self) -> dict[str, dict[str, object]]:
        """The stack runs on the hospital's own host: no machine is chosen."""
        return {}

    def route_urls(self) -> dict[str, list[str]]:
        """Public URLs per system."""
        return {name: [f"https://{r.fqdn}" for r in s.routes] for name, s in self.systems.items()}

    def _htpasswd(self, password: str) -> str:
        return htpasswd_line(self.auth_username, password)

    def finish(self) -> TlsProxy:
        """Create the proxy once every system's routes are known."""
        htpasswd: dict[str, pulumi.Input[str]] = {}
        child = pulumi.ResourceOptions(parent=self.parent)
        for name, system in self.systems.items():
            if not system.needs_basic_auth:
                continue
            password = random.RandomPassword(f"{name}-basic-auth", length=32, special=False, opts=child)
            htpasswd[f"{AUTH_DIR}/{name}.htpasswd"] = password.result.apply(self._htpasswd)
            self.credentials[name] = pulumi.Output.secret(password.result)
        listen = self.cloud.proxy_listen
        return TlsProxy(
            f"{self.stack_name}-proxy",
            routes=[r for s in self.systems.values() for r in s.routes],
            certificate_pem=self.cloud.certificate_pem,
            private_key_pem=self.cloud.private_key_pem,
            htpasswd=htpasswd,
            backend_ca_pem=self.cloud.ca_certificate_pem,
            edge_network=self.edge.name,
            networks=[s.frontend for s in self.systems.values()],
            labels=self.labels,
            image_map=self.image_map,
            listen_address=listen.address,
            allowed_source_cidrs=self.allowed_source_cidrs,
            https_port=listen.https_port,
            http_port=listen.http_port,
            opts=child,
        )
