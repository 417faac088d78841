"""Keys and secrets: Cloud KMS key rotation and Secret Manager's encryption key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_prod, number, truthy
from policy.gcp_rules.tokens import CRYPTO_KEY, REGIONAL_SECRET, SECRETS
from policy.rule import HIPAA, CheckContext, Rule

DAY = 86400
ROTATION_DAYS = {"prod": 90, "other": 365}  # CIS GCP 1.10 asks for 90 days


def check_kms_rotation(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if str(props.get("purpose") or "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or truthy(props.get("importOnly")):
        return  # asymmetric, MAC and imported keys cannot rotate automatically
    ceiling = ROTATION_DAYS["prod" if is_prod(props, ctx) else "other"]
    period = str(props.get("rotationPeriod") or "")
    if not period:
        yield f"{ctx.name} never rotates its key material (no rotationPeriod); rotate at least every {ceiling} days"
        return
    days = number(period.rstrip("s"), 0.0) / DAY
    if days > ceiling:
        yield f"{ctx.name} rotates every {days:g} days; rotate at least every {ceiling} days"


def _replica_keys(props: Mapping[str, Any], ctx: CheckContext) -> list[Any]:
    """The CMEK of every place the secret is stored (None where Google's key is used)."""
    if ctx.resource_type == REGIONAL_SECRET:
        return [(props.get("customerManagedEncryption") or {}).get("kmsKeyName")]
    replication = props.get("replication") or {}
    if replication.get("auto") is not None:
        return [((replication.get("auto") or {}).get("customerManagedEncryption") or {}).get("kmsKeyName")]
    replicas = (replication.get("userManaged") or {}).get("replicas") or []
    return [((r or {}).get("customerManagedEncryption") or {}).get("kmsKeyName") for r in replicas] or [None]


def check_secret_cmek(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not all(_replica_keys(props, ctx)):
        yield f"{ctx.name} is encrypted with a Google-managed key in some replica, not the stack's customer-managed key"


KMS_ROTATION = Rule(
    name="gcp-kms-rotation",
    family="encryption",
    severity="high",
    description="Symmetric Cloud KMS keys rotate at least every 90 days in prod and every 365 days elsewhere.",
    remediation="Set rotation_period = '7776000s' (90 days) (checkov CKV_GCP_43 asks for 90 days everywhere).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(CRYPTO_KEY,),
    check=check_kms_rotation,
    nist="NIST 800-53 SC-12",
)
SECRET_CMEK = Rule(
    name="gcp-secret-cmek",
    family="secrets",
    severity="low",
    description="Secret Manager secrets are encrypted with the stack's customer-managed key in every replica.",
    remediation="Set replication.user_managed.replicas[].customer_managed_encryption.kms_key_name (or auto.customer_managed_encryption) and grant the Secret Manager service agent encrypter/decrypter (no checkov equivalent).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=SECRETS,
    check=check_secret_cmek,
    nist="NIST 800-53 SC-12",
    default_enforcement="advisory",
)
