"""``OnpremCloud``: what a hospital's own site provides a runtime: certificates and an address plan.

There is no cloud API on premises: data stores run inside the runtime. The
cloud gives the stack's private CA (data-service certificates always, the
entry point's certificate unless the hospital's PKI provides one), the
stable per-system address plan of the stack's private range, and where the
entry point listens on the host.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.addressing import SystemSubnets, edge_subnet, system_subnets
from components.pki import PrivateCertificateAuthority
from components.platform import ProxyListen, StackSettings


class OnpremCloud:
    """The on-premises foundation; its resources are children of the stack's ``Platform``."""

    def __init__(self, name: str, stack: StackSettings, parent: pulumi.Resource) -> None:
        self.cidr, self.listen = stack.cidr, stack.listen
        self.address_slots: Mapping[str, int] = dict(stack.address_slots)
        self.ca = PrivateCertificateAuthority(
            f"{name}-ca", f"Clinical platform CA ({stack.domain})", opts=pulumi.ResourceOptions(parent=parent)
        )
        self.ca_certificate_pem: pulumi.Input[str] = self.ca.ca_certificate_pem
        tls = stack.tls
        if tls.certificate_pem and tls.private_key_pem is not None:
            self.certificate_pem: pulumi.Input[str] = tls.certificate_pem
            self.private_key_pem: pulumi.Input[str] = pulumi.Output.secret(tls.private_key_pem)
        else:
            issued = self.ca.issue(f"{name}-proxy", [stack.domain, f"*.{stack.domain}"])
            self.certificate_pem, self.private_key_pem = issued.certificate_pem, issued.private_key_pem

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        """Nothing beyond the CA certificate the runtime exports."""
        return {}

    @property
    def edge_subnet(self) -> str:
        """The shared edge network's range."""
        return edge_subnet(self.cidr)

    def system_subnets(self, system: str) -> SystemSubnets:
        """The ranges of ``system``'s networks, from its fixed address slot."""
        return system_subnets(self.cidr, self.address_slots[system])

    @property
    def proxy_listen(self) -> ProxyListen:
        """Where the entry point binds on the host."""
        return self.listen
