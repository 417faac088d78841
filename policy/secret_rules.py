"""Rules for generated secrets and certificates (pulumi-random, pulumi-tls), on every cloud and runtime."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.rule import HIPAA, CheckContext, Rule

PASSWORD = "random:index/randomPassword:RandomPassword"
BYTES = "random:index/randomBytes:RandomBytes"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"

STRONG_CURVES = {"P256", "P384", "P521"}
SERVER_CERT_MAX_HOURS = 398 * 24  # the CA/Browser Forum limit for TLS server certificates
CA_CERT_MAX_HOURS = 10 * 365 * 24


def check_random_strength(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    length = int(props.get("length") or 0)
    floor = 32 if ctx.resource_type == BYTES else 16
    if length < floor:
        yield f"{ctx.name} is {length} characters/bytes long; use at least {floor}"
    if ctx.resource_type == PASSWORD:
        classes = [c for c in ("lower", "upper", "numeric") if props.get(c) is not False]
        if len(classes) < 2:
            yield f"{ctx.name} draws from fewer than two character classes"


def check_key_strength(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    algorithm = str(props.get("algorithm") or "")
    if algorithm == "RSA" and int(props.get("rsaBits") or 2048) < 2048:
        yield f"{ctx.name} is an RSA key of {props.get('rsaBits')} bits; use 2048 or more"
    elif algorithm == "ECDSA" and str(props.get("ecdsaCurve") or "P224") not in STRONG_CURVES:
        yield f"{ctx.name} uses the weak curve {props.get('ecdsaCurve') or 'P224 (the default)'}; use P256 or P384"


def check_certificate_profile(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if ctx.resource_type == CERT_REQUEST:
        if not props.get("dnsNames") and not props.get("ipAddresses"):
            yield f"{ctx.name} names no host in subjectAltName; clients reject it"
        return
    hours = int(props.get("validityPeriodHours") or 0)
    uses = set(props.get("allowedUses") or [])
    if props.get("isCaCertificate"):
        if hours > CA_CERT_MAX_HOURS:
            yield f"{ctx.name} is a CA valid {hours // 24} days; keep CAs under 10 years"
        if "cert_signing" not in uses:
            yield f"{ctx.name} is a CA without the cert_signing use"
    else:
        if hours > SERVER_CERT_MAX_HOURS:
            yield f"{ctx.name} is valid {hours // 24} days; server certificates may last at most 398"
        if "server_auth" not in uses:
            yield f"{ctx.name} lacks the server_auth extended key usage"


RULES = [
    Rule(
        name="generated-secret-strength",
        family="secrets",
        severity="high",
        description="Generated passwords are 16+ characters from 2+ classes; generated keys 32+ bytes.",
        remediation="Raise length (the platform uses 32-64) and keep letters and digits on.",
        hipaa=HIPAA["authentication"],
        nist="NIST 800-53 IA-5(1)",
        resource_types=(PASSWORD, BYTES),
        check=check_random_strength,
    ),
    Rule(
        name="tls-private-key-strength",
        family="secrets",
        severity="high",
        description="Private keys are RSA 2048+ or ECDSA on P-256/P-384/P-521 (or Ed25519).",
        remediation="Use algorithm ECDSA with ecdsa_curve P256 or P384, or RSA with rsa_bits >= 2048.",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-12",
        resource_types=(PRIVATE_KEY,),
        check=check_key_strength,
    ),
    Rule(
        name="tls-certificate-profile",
        family="tls",
        severity="medium",
        description="Server certificates name their hosts, last at most 398 days and are for server_auth; CAs sign only.",
        remediation="Set dns_names, validity_period_hours <= 9552 and allowed_uses with server_auth (cert_signing for CAs).",
        hipaa=HIPAA["transmission-encryption"],
        nist="NIST 800-53 SC-17",
        resource_types=(SELF_SIGNED, LOCALLY_SIGNED, CERT_REQUEST),
        check=check_certificate_profile,
    ),
]
