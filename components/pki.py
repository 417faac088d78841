"""A stack's private certificate authority, and where an entry point's certificate comes from.

The stack's CA signs the wildcard certificate of the TLS proxy on local
stacks (staging and prod bring the hospital's own) and one certificate per
in-platform data service, so connections to PostgreSQL are encrypted even
on a host's internal networks. Any cloud or runtime may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

SERVER_VALIDITY_HOURS = 24 * 365  # under the 398-day limit for server certificates
CA_VALIDITY_HOURS = 24 * 365 * 5


@dataclass(frozen=True)
class TlsSource:
    """The entry point's certificate: ``None`` PEMs mean the stack's CA issues one."""

    certificate_pem: pulumi.Input[str] | None = None
    private_key_pem: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    """A server certificate (chain with the CA) and its private key (secret)."""

    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]


class PrivateCertificateAuthority(pulumi.ComponentResource):
    """A private CA (ECDSA P-384, 5 years, cert signing only) that issues ECDSA P-256 server certificates.

    Secure defaults: keys are generated in Pulumi state, where they are
    secrets, and never written elsewhere; server certificates last one year,
    are renewed 30 days before expiry, carry only the server_auth usage and
    name their hosts in subjectAltName. Import ``ca_certificate_pem`` into a
    browser or ``curl --cacert`` to trust what it signs.
    """

    ca_certificate_pem: pulumi.Output[str]

    def __init__(self, name: str, common_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("clinical:onprem:PrivateCertificateAuthority", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P384", opts=child)
        self._ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=self._key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=common_name, organization="Clinical platform"),
            opts=child,
        )
        self.ca_certificate_pem = self._ca.cert_pem
        self.register_outputs({"caCertificatePem": self.ca_certificate_pem})

    def issue(self, name: str, dns_names: Sequence[str]) -> IssuedCertificate:
        """A server certificate for ``dns_names`` (the first is the subject), signed by this CA."""
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            dns_names=list(dns_names),
            subject=tls.CertRequestSubjectArgs(common_name=dns_names[0]),
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=self._key.private_key_pem,
            ca_cert_pem=self._ca.cert_pem,
            validity_period_hours=SERVER_VALIDITY_HOURS,
            early_renewal_hours=24 * 30,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        return IssuedCertificate(
            certificate_pem=pulumi.Output.concat(cert.cert_pem, self._ca.cert_pem),
            private_key_pem=pulumi.Output.secret(key.private_key_pem),
        )
