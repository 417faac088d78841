"""Certificates for the TLS proxy: a local CA for local stacks, or the hospital's own certificate."""

from __future__ import annotations

import pulumi
import pulumi_tls as tls

VALIDITY_HOURS = 24 * 365


class LocalCertificateAuthority(pulumi.ComponentResource):
    """A private CA (ECDSA P-384) and a wildcard server certificate for ``*.<domain>``.

    For local and development stacks only (the config rejects self-signed
    certificates in staging and prod). Import ``ca_certificate_pem`` into a
    browser or ``curl --cacert`` to trust the routes. Keys never leave
    Pulumi state, where they are secrets.
    """

    ca_certificate_pem: pulumi.Output[str]
    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, domain: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("clinical:onprem:LocalCertificateAuthority", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P384", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=VALIDITY_HOURS * 5,
            allowed_uses=["cert_signing", "crl_signing"],
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"Clinical platform local CA ({domain})", organization="Clinical platform"
            ),
            opts=child,
        )
        key = tls.PrivateKey(f"{name}-server-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        csr = tls.CertRequest(
            f"{name}-server-csr",
            private_key_pem=key.private_key_pem,
            dns_names=[domain, f"*.{domain}"],
            subject=tls.CertRequestSubjectArgs(common_name=f"*.{domain}"),
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-server-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=VALIDITY_HOURS,
            early_renewal_hours=24 * 30,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        self.ca_certificate_pem = ca.cert_pem
        self.certificate_pem = pulumi.Output.concat(cert.cert_pem, ca.cert_pem)
        self.private_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.register_outputs({"caCertificatePem": self.ca_certificate_pem})
