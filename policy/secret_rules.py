"""Rules for generated secrets and certificates (pulumi-random, pulumi-tls), and for who holds the managed
databases' master credentials, on every cloud and runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

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


RDS_INSTANCE = "aws:rds/instance:Instance"
CLOUD_SQL_USER = "gcp:sql/user:User"
AWS_SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
GCP_SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
K8S_SECRET = "kubernetes:core/v1:Secret"
# The placeholder of a password the cloud manages and the VM's boot script fills in (components/endpoints.py):
# on RDS only the master user's password is managed; the application roles' passwords are generated.
BOOT_SECRET_MARKER = "__CLINICAL_BOOT_SECRET__"
# What only the role set-up's SQL says (components/database_roles.py): the job that makes the least-privileged
# roles is the one workload that logs in as the master user.
ROLE_SETUP_SIGN = "NOCREATEDB NOCREATEROLE"


def _workload_values(resources: list[StackResource]) -> Iterator[tuple[StackResource, str, list[str]]]:
    """(resource, service, its secret values): the VMs' runtime secrets and the pods' Secrets."""
    for r in resources:
        if r.resource_type in {AWS_SECRET_VERSION, GCP_SECRET_VERSION}:
            raw = r.props.get("secretString") if r.resource_type == AWS_SECRET_VERSION else r.props.get("secretData")
            try:
                document = json.loads(str(raw or ""))
            except ValueError:
                continue
            if not isinstance(document, dict) or not isinstance(document.get("env"), dict):
                continue  # not a runtime secret (a password, the roles' secret)
            found = document.get("files")
            files: dict[str, Any] = found if isinstance(found, dict) else {}
            services = set(document["env"]) | {path.split("/")[1] for path in files if path.count("/") > 1}
            for service in sorted(services):
                values = [str(v) for v in (document["env"].get(service) or {}).values()]
                values += [str(c) for path, c in files.items() if path.startswith(f"/{service}/")]
                yield r, service, values
        elif r.resource_type == K8S_SECRET:
            name = str((r.props.get("metadata") or {}).get("name") or "")
            for suffix in ("-env", "-secret-files"):
                if name.endswith(suffix):
                    yield r, name[: -len(suffix)], [str(v) for v in (r.props.get("stringData") or {}).values()]


def check_managed_db_app_not_master(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """No workload but the role set-up job holds a managed database's master credentials.

    The masters are read from the databases themselves: RDS's ``username``/``password`` and every Cloud SQL
    built-in user (all are cloudsqlsuperuser). A workload holds them when its secret values carry the master
    password, the marker of an RDS-managed password, or a URL logging in as the master user. The exception is
    the job whose secret values carry the role set-up SQL: it exists to use them.
    """
    users: set[str] = set()
    passwords: set[str] = set()
    for r in resources:
        if r.resource_type == RDS_INSTANCE:
            users.add(str(r.props.get("username") or ""))
            passwords.add(str(r.props.get("password") or ""))
        elif r.resource_type == CLOUD_SQL_USER:
            users.add(str(r.props.get("name") or ""))
            passwords.add(str(r.props.get("password") or ""))
    users.discard("")
    passwords = {p for p in passwords if len(p) >= 8}
    if not users:
        return
    by_service: dict[tuple[str, str], tuple[StackResource, list[str]]] = {}
    for r, service, values in _workload_values(resources):
        # A pod's env and files are two Secrets of its namespace; a VM's runtime secret is one document.
        scope = str((r.props.get("metadata") or {}).get("namespace") or r.urn)
        key = (scope, service)
        held = by_service.setdefault(key, (r, []))
        held[1].extend(values)
    for (_, service), (r, values) in sorted(by_service.items(), key=lambda kv: kv[0]):
        if any(ROLE_SETUP_SIGN in v for v in values):
            continue
        text = "\n".join(values)
        holds = (
            any(p in text for p in passwords) or BOOT_SECRET_MARKER in text or any(f"://{u}:" in text for u in users)
        )
        if holds:
            yield (
                r.urn,
                f"{service}: holds a managed database's master user credentials; give it the application role "
                "(${postgres:<db>.url}) or the monitoring role (${postgres:<db>.monitor_url})",
            )


STACK_RULES = [
    StackRule(
        name="managed-db-app-not-master",
        family="secrets",
        severity="high",
        description="On RDS and Cloud SQL no application, exporter or job but the role set-up job holds the master "
        "user's credentials (rds_superuser / cloudsqlsuperuser: it creates roles and databases).",
        remediation="Connect applications with the system's application role (owner of its database only, "
        "NOCREATEDB NOCREATEROLE) and exporters with its monitoring role (pg_monitor): what ${postgres:<db>.url} "
        "and ${postgres:<db>.monitor_url} resolve to; only the <db>-setup job gets ${postgres:<db>.admin_*}.",
        hipaa=HIPAA["access-control"],
        nist="NIST 800-53 AC-6",
        resource_types=(RDS_INSTANCE, CLOUD_SQL_USER, AWS_SECRET_VERSION, GCP_SECRET_VERSION, K8S_SECRET),
        check=check_managed_db_app_not_master,
    ),
]
