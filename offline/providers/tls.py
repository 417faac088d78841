"""The TLS provider (pulumi-tls): private keys and certificates of the stack's own CA, computed in the engine."""

from __future__ import annotations

from offline.providers.profile import Free, Provider, ResourceProfile, fake_pem

IN_THE_ENGINE = Free("computed by the provider in the engine (a local CA): nothing is created or billed")

RESOURCES: dict[str, ResourceProfile] = {
    "tls:index/privateKey:PrivateKey": ResourceProfile(
        kind="secret",
        create_seconds=0.2,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {"privateKeyPem": fake_pem("PRIVATE KEY", n), "publicKeyPem": fake_pem("PUBLIC KEY", n)},
    ),
    "tls:index/selfSignedCert:SelfSignedCert": ResourceProfile(
        kind="certificate",
        create_seconds=0.2,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {"certPem": fake_pem("CERTIFICATE", n)},
    ),
    "tls:index/certRequest:CertRequest": ResourceProfile(
        kind="certificate",
        create_seconds=0.1,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {"certRequestPem": fake_pem("CERTIFICATE REQUEST", n)},
    ),
    "tls:index/locallySignedCert:LocallySignedCert": ResourceProfile(
        kind="certificate",
        create_seconds=0.2,
        price=IN_THE_ENGINE,
        outputs=lambda n, i: {"certPem": fake_pem("CERTIFICATE", n)},
    ),
}

PROVIDER = Provider(name="tls", resources=RESOURCES, invokes={})
