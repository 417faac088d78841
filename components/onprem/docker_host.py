"""``DockerHostPlatform``: the shared parts of a stack on one on-premises Docker host."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.docker.network import bridge_network, carve_subnets
from components.docker.proxy import TlsProxy
from components.docker.system import DockerSystem, SystemSubnets
from components.onprem.tls import PrivateCertificateAuthority
from components.specs import SystemSpec

AUTH_DIR = "/etc/nginx/auth"


def htpasswd_line(user: str, password: str) -> str:
    """An nginx htpasswd entry in salted SHA-1 ({SSHA}); the salt is derived so the file is stable."""
    salt = hmac.new(password.encode(), user.encode(), hashlib.sha256).digest()[:8]
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


@dataclass(frozen=True)
class TlsSource:
    """The proxy certificate: ``None`` PEMs mean a local CA is created."""

    certificate_pem: str | None = None
    private_key_pem: pulumi.Output[str] | None = None


class DockerHostPlatform(pulumi.ComponentResource):
    """The foundation of an ``onprem`` + ``docker`` stack.

    Creates the edge network (the only routable one, holding only the
    proxy), the TLS certificate (a local CA unless the hospital's own is
    given), each system on its own isolated networks, and finally the TLS
    proxy with one generated basic-auth credential per system that needs
    one. Call ``add_system`` for each system, then ``finish``.
    """

    def __init__(
        self,
        name: str,
        *,
        domain: str,
        cidr: str,
        system_names: Sequence[str],
        labels: Mapping[str, str],
        tls: TlsSource,
        auth_username: str,
        protect_data: bool,
        image_map: Mapping[str, str] | None = None,
        listen: tuple[str, int, int] = ("0.0.0.0", 443, 80),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:onprem:DockerHostPlatform", name, None, opts)
        # Not self._name/_protect: those are pulumi.Resource attributes.
        self.stack_name, self.domain, self.labels = name, domain, dict(labels)
        self.auth_username, self.protect_data = auth_username, protect_data
        self.image_map = dict(image_map or {})
        self.listen = listen
        subnets = carve_subnets(cidr, 1 + 3 * len(system_names))
        self._subnets = {sys: SystemSubnets(*subnets[1 + 3 * i : 4 + 3 * i]) for i, sys in enumerate(system_names)}
        self.edge = bridge_network(f"{name}-edge", subnets[0], role="edge", labels=self.labels, parent=self)
        # The stack's own CA: data service certificates always, the proxy's only without a provided one.
        self.ca = PrivateCertificateAuthority(
            f"{name}-ca", f"Clinical platform CA ({domain})", opts=pulumi.ResourceOptions(parent=self)
        )
        self.ca_certificate_pem: pulumi.Input[str] | None = self.ca.ca_certificate_pem
        if tls.certificate_pem and tls.private_key_pem is not None:
            self.certificate_pem: pulumi.Input[str] = tls.certificate_pem
            self.private_key_pem: pulumi.Input[str] = pulumi.Output.secret(tls.private_key_pem)
        else:
            issued = self.ca.issue(f"{name}-proxy", [domain, f"*.{domain}"])
            self.certificate_pem, self.private_key_pem = issued.certificate_pem, issued.private_key_pem
        self.systems: dict[str, DockerSystem] = {}
        self.credentials: dict[str, pulumi.Output[str]] = {}

    def add_system(self, spec: SystemSpec, config_secrets: Mapping[str, pulumi.Output[str]]) -> DockerSystem:
        """Deploy one system on its own networks."""
        system = DockerSystem(
            spec.name,
            spec,
            domain=self.domain,
            subnets=self._subnets[spec.name],
            labels=self.labels,
            config_secrets=config_secrets,
            auth_file_dir=AUTH_DIR,
            certificate_authority=self.ca,
            protect_data=self.protect_data,
            image_map=self.image_map,
            opts=pulumi.ResourceOptions(parent=self),
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
        for name, system in self.systems.items():
            if not system.needs_basic_auth:
                continue
            password = random.RandomPassword(
                f"{name}-basic-auth", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            htpasswd[f"{AUTH_DIR}/{name}.htpasswd"] = password.result.apply(self._htpasswd)
            self.credentials[name] = pulumi.Output.secret(password.result)
        proxy = TlsProxy(
            f"{self.stack_name}-proxy",
            routes=[r for s in self.systems.values() for r in s.routes],
            certificate_pem=self.certificate_pem,
            private_key_pem=self.private_key_pem,
            htpasswd=htpasswd,
            edge_network=self.edge.name,
            networks=[s.frontend for s in self.systems.values()],
            labels=self.labels,
            image_map=self.image_map,
            listen_address=self.listen[0],
            https_port=self.listen[1],
            http_port=self.listen[2],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"systems": list(self.systems)})
        return proxy
