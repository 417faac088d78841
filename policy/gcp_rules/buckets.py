"""Cloud Storage: each bucket's own settings, who its IAM and ACL resources let in, and its access logs.

Unlike S3 on pulumi-aws 7, a GCS bucket carries its encryption, versioning,
uniform access and public access prevention inline, so those are resource
rules; only access logging needs the other buckets (which one is the log
bucket) and is a stack rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_public, members_of, truthy
from policy.gcp_rules.tokens import BUCKET, BUCKET_ACLS, BUCKET_IAM
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

# Canned ACLs that grant allUsers or allAuthenticatedUsers.
PUBLIC_PREDEFINED_ACLS = {"publicread", "publicreadwrite", "authenticatedread"}


def check_uniform_access(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy(props.get("uniformBucketLevelAccess")):
        yield f"{ctx.name} allows per-object ACLs (uniformBucketLevelAccess is off)"


def check_public_access_prevention(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    value = str(props.get("publicAccessPrevention") or "inherited")
    if value != "enforced":
        yield f"{ctx.name} has publicAccessPrevention '{value}', so an IAM grant or ACL can still make it public"


def check_versioning(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not truthy((props.get("versioning") or {}).get("enabled")):
        yield f"{ctx.name} keeps no object versions (versioning.enabled is off)"


def check_bucket_cmek(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not (props.get("encryption") or {}).get("defaultKmsKeyName"):
        yield f"{ctx.name} is encrypted with a Google-managed key, not the stack's customer-managed key"


def check_bucket_not_public(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    """IAM members/bindings/policies and every ACL shape: role entities, a single entity, a canned ACL."""
    for role, member in members_of(props):
        if is_public(member):
            yield f"{ctx.name} grants {role or 'a role'} to {member}"
    for entry in props.get("roleEntities") or []:
        role, _, entity = str(entry).partition(":")
        if is_public(entity):
            yield f"{ctx.name} grants {role} to {entity} by ACL"
    entity = str(props.get("entity") or "")
    if is_public(entity):
        yield f"{ctx.name} grants {props.get('role') or 'a role'} to {entity} by ACL"
    canned = str(props.get("predefinedAcl") or "")
    if canned.lower() in PUBLIC_PREDEFINED_ACLS:
        yield f"{ctx.name} applies the public canned ACL {canned}"


GCS_UNIFORM_ACCESS = Rule(
    name="gcp-gcs-uniform-access",
    family="firewall",
    severity="high",
    description="Buckets use uniform bucket-level access: IAM only, no per-object ACLs.",
    remediation="Set uniform_bucket_level_access = true (checkov CKV_GCP_29).",
    hipaa=HIPAA["access-control"],
    resource_types=(BUCKET,),
    check=check_uniform_access,
    nist="NIST 800-53 AC-3",
)
GCS_PUBLIC_ACCESS_PREVENTION = Rule(
    name="gcp-gcs-public-access-prevention",
    family="firewall",
    severity="critical",
    description="Buckets enforce public access prevention.",
    remediation="Set public_access_prevention = 'enforced' (checkov CKV_GCP_114).",
    hipaa=HIPAA["access-control"],
    resource_types=(BUCKET,),
    check=check_public_access_prevention,
    nist="NIST 800-53 AC-3",
)
GCS_VERSIONING = Rule(
    name="gcp-gcs-versioning",
    family="data-protection",
    severity="high",
    description="Buckets keep object versions.",
    remediation="Set versioning.enabled = true, with a lifecycle rule for noncurrent versions (checkov CKV_GCP_78).",
    hipaa=HIPAA["integrity"],
    resource_types=(BUCKET,),
    check=check_versioning,
    nist="NIST 800-53 CP-9",
)
GCS_CMEK = Rule(
    name="gcp-gcs-cmek",
    family="encryption",
    severity="high",
    description="Buckets are encrypted with the stack's customer-managed KMS key by default.",
    remediation="Set encryption.default_kms_key_name and grant the Cloud Storage service agent encrypter/decrypter on the key (no checkov equivalent).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(BUCKET,),
    check=check_bucket_cmek,
    nist="NIST 800-53 SC-12",
)
GCS_NOT_PUBLIC = Rule(
    name="gcp-gcs-not-public",
    family="firewall",
    severity="critical",
    description="No bucket IAM grant or ACL admits allUsers or allAuthenticatedUsers.",
    remediation="Grant roles to named service accounts or groups only; drop public canned ACLs (checkov CKV_GCP_28).",
    hipaa=HIPAA["access-control"],
    resource_types=(*BUCKET_IAM, *BUCKET_ACLS),
    check=check_bucket_not_public,
    nist="NIST 800-53 AC-3",
)


# --- stack-level rules ----------------------------------------------------------------------


def _bucket_name(value: Any) -> str:
    return str(value or "").removeprefix("gs://").rstrip("/")


def check_bucket_access_logs(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Every bucket logs to another bucket; a bucket others log to is the log bucket and need not log itself."""
    buckets = [r for r in resources if r.resource_type == BUCKET]
    targets = {_bucket_name((b.props.get("logging") or {}).get("logBucket")) for b in buckets} - {""}
    for bucket in buckets:
        own = _bucket_name(bucket.props.get("name"))
        target = _bucket_name((bucket.props.get("logging") or {}).get("logBucket"))
        if target and target == own:
            yield bucket.urn, f"{bucket.name} writes its access logs to itself"
        elif not target and not (own and own in targets):
            yield bucket.urn, f"{bucket.name} writes no access logs (and no bucket of the stack logs to it)"


GCS_ACCESS_LOGS = StackRule(
    name="gcp-gcs-access-logs",
    family="audit",
    severity="medium",
    description="Every bucket writes access logs to another bucket; the bucket they log to is exempt.",
    remediation="Set logging.log_bucket to the stack's log bucket (checkov CKV_GCP_62, CKV_GCP_63).",
    hipaa=HIPAA["audit"],
    resource_types=(BUCKET,),
    check=check_bucket_access_logs,
    nist="NIST 800-53 AU-2",
)
