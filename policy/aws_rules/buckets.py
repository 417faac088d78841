"""S3 buckets: each bucket and the configuration resources beside it (encryption, policy, versioning, logging)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import dependents, public_allows, tags_of, truthy
from policy.aws_rules.tokens import (
    BUCKET,
    BUCKET_LOGGING,
    BUCKET_PAB,
    BUCKET_POLICY,
    BUCKET_SSE,
    BUCKET_VERSIONING,
    S3_ACL_TYPES,
)
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule


def check_bucket_policy_tls(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _denies_insecure_transport(props.get("policy")):
        yield f"{ctx.name} does not deny requests without TLS (aws:SecureTransport false)"


def check_bucket_policy_not_public(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for st in public_allows(props.get("policy")):
        yield f"{ctx.name} allows {st.get('Action')} to any principal, with no condition"


def _denies_insecure_transport(policy: Any) -> bool:
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy or {}
    except json.JSONDecodeError:
        return False
    statements = document.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    for st in statements:
        condition = json.dumps(st.get("Condition") or {})
        if st.get("Effect") == "Deny" and "aws:SecureTransport" in condition and "false" in condition:
            return True
    return False


def check_versioning(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    status = (props.get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        yield f"{ctx.name} versioning is {status or 'off'}"


def check_public_access_block(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if not truthy(props.get(f))]
    if off:
        yield f"{ctx.name} leaves {off} off"


# Canned ACLs that let anyone (or any AWS account) read or write, and the grantee groups that mean the same.
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "everyone",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "every AWS account",
}


def _public_grants(grants: Any) -> Iterator[tuple[str, str]]:
    """(who, permission) of every grant to a public group, in a bucket's ``grants`` or an ACL's ``grants`` shape."""
    for grant in grants or []:
        grant = grant or {}
        grantee = grant.get("grantee") or grant  # accessControlPolicy.grants[].grantee, or the bucket's flat grant
        who = PUBLIC_GROUPS.get(str(grantee.get("uri") or ""))
        if who:
            permissions = grant.get("permissions") or [grant.get("permission")]
            yield who, ", ".join(str(p) for p in permissions if p) or "access"


def check_no_public_acl(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    acl = str(props.get("acl") or "")
    if acl in PUBLIC_CANNED_ACLS:
        who = "any AWS account" if acl == "authenticated-read" else "anyone"
        what = "read and write" if acl == "public-read-write" else "read"
        yield f"{ctx.name} has the canned ACL {acl}: {who} may {what}"
    policy = props.get("accessControlPolicy") or {}
    for who, permission in _public_grants([*(props.get("grants") or []), *(policy.get("grants") or [])]):
        yield f"{ctx.name} grants {permission} to {who}"


S3_TLS_ONLY = Rule(
    name="aws-s3-tls-only",
    family="tls",
    severity="high",
    description="Bucket policies deny requests made without TLS.",
    remediation="Add a Deny statement for aws:SecureTransport = false (cdk-nag S3BucketSSLRequestsOnly).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(BUCKET_POLICY,),
    check=check_bucket_policy_tls,
    nist="NIST 800-53 SC-8",
)
S3_POLICY_NOT_PUBLIC = Rule(
    name="aws-s3-policy-not-public",
    family="firewall",
    severity="critical",
    description="Bucket policies allow nothing to the `*` principal without a condition.",
    remediation="Name the principals (roles, services with aws:SourceArn) in Allow statements; the public access "
    "block's restrict_public_buckets is a second line, not the first (checkov CKV_AWS_70).",
    hipaa=HIPAA["access-control"],
    resource_types=(BUCKET_POLICY,),
    check=check_bucket_policy_not_public,
    nist="NIST 800-53 AC-3",
)
S3_VERSIONING = Rule(
    name="aws-s3-versioning",
    family="data-protection",
    severity="high",
    description="Buckets keep object versions.",
    remediation="Add a BucketVersioning with status Enabled (checkov CKV_AWS_21).",
    hipaa=HIPAA["integrity"],
    resource_types=(BUCKET_VERSIONING,),
    check=check_versioning,
    nist="NIST 800-53 CP-9",
)
S3_NO_PUBLIC_ACL = Rule(
    name="aws-s3-no-public-acl",
    family="firewall",
    severity="critical",
    description="No bucket, bucket ACL or object grants access to everyone or to every AWS account.",
    remediation="Remove the public-read, public-read-write or authenticated-read ACL and every grant to the AllUsers or "
    "AuthenticatedUsers group; disable ACLs with BucketOwnershipControls BucketOwnerEnforced (the Bucket component does) "
    "(checkov CKV_AWS_20, CKV_AWS_57, CKV2_AWS_65).",
    hipaa=HIPAA["access-control"],
    resource_types=S3_ACL_TYPES,
    check=check_no_public_acl,
    nist="NIST 800-53 AC-3",
)
S3_PUBLIC_ACCESS_BLOCK = Rule(
    name="aws-s3-public-access-block",
    family="firewall",
    severity="critical",
    description="Buckets block every form of public access.",
    remediation="Add a BucketPublicAccessBlock with all four settings true (checkov CKV_AWS_53-56).",
    hipaa=HIPAA["access-control"],
    resource_types=(BUCKET_PAB,),
    check=check_public_access_block,
    nist="NIST 800-53 AC-3",
)


# --- stack-level rules ----------------------------------------------------------------------


def _buckets(resources: list[StackResource]) -> Iterator[tuple[StackResource, bool]]:
    """Every bucket, and whether it is a log bucket (ALB and S3 log delivery accept only SSE-S3)."""
    for bucket in (r for r in resources if r.resource_type == BUCKET):
        yield bucket, tags_of(bucket.props).get("role") == "access-logs"


def check_bucket_encrypted(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, is_log_bucket in _buckets(resources):
        sse = dependents(resources, bucket, BUCKET_SSE)
        if not sse:
            yield bucket.urn, f"{bucket.name} has no server-side encryption configuration"
        for config in sse:
            for rule in config.props.get("rules") or []:
                algorithm = ((rule or {}).get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
                if algorithm not in {"aws:kms", "aws:kms:dsse"} and not is_log_bucket:
                    yield bucket.urn, f"{bucket.name} uses {algorithm} instead of the stack's KMS key"


def check_bucket_tls_only(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        if not any(
            _denies_insecure_transport(p.props.get("policy")) for p in dependents(resources, bucket, BUCKET_POLICY)
        ):
            yield bucket.urn, f"{bucket.name} has no policy denying non-TLS requests"


def check_bucket_private(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        blocks = dependents(resources, bucket, BUCKET_PAB)
        if not blocks:
            yield bucket.urn, f"{bucket.name} has no public access block"
        if str(bucket.props.get("acl") or "private") not in {"private", ""}:
            yield bucket.urn, f"{bucket.name} has the ACL {bucket.props.get('acl')}"


def check_bucket_versioned(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, _ in _buckets(resources):
        if not dependents(resources, bucket, BUCKET_VERSIONING):
            yield bucket.urn, f"{bucket.name} has no versioning configuration"


def check_bucket_logged(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for bucket, is_log_bucket in _buckets(resources):
        if not is_log_bucket and not dependents(resources, bucket, BUCKET_LOGGING):
            yield bucket.urn, f"{bucket.name} writes no server access logs"


S3_BUCKET_ENCRYPTED = StackRule(
    name="aws-s3-bucket-encrypted",
    family="encryption",
    severity="high",
    description="Every bucket is encrypted with the stack's KMS key (SSE-S3 only for log buckets, which ALB logs require).",
    remediation="Use the Bucket component, which adds the encryption configuration (checkov CKV_AWS_145).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(BUCKET,),
    check=check_bucket_encrypted,
    nist="NIST 800-53 SC-28",
)
S3_BUCKET_TLS_ONLY = StackRule(
    name="aws-s3-bucket-tls-only",
    family="tls",
    severity="high",
    description="Every bucket has a policy that denies requests without TLS.",
    remediation="Use the Bucket component, which adds the TLS-only bucket policy (cdk-nag S3BucketSSLRequestsOnly).",
    hipaa=HIPAA["transmission-encryption"],
    resource_types=(BUCKET,),
    check=check_bucket_tls_only,
    nist="NIST 800-53 SC-8",
)
S3_BUCKET_PRIVATE = StackRule(
    name="aws-s3-bucket-private",
    family="firewall",
    severity="critical",
    description="Every bucket has a public access block and no public ACL.",
    remediation="Use the Bucket component, which blocks all public access (checkov CKV2_AWS_6).",
    hipaa=HIPAA["access-control"],
    resource_types=(BUCKET,),
    check=check_bucket_private,
    nist="NIST 800-53 AC-3",
)
S3_BUCKET_VERSIONED = StackRule(
    name="aws-s3-bucket-versioned",
    family="data-protection",
    severity="high",
    description="Every bucket keeps object versions.",
    remediation="Use the Bucket component, which enables versioning (checkov CKV_AWS_21).",
    hipaa=HIPAA["integrity"],
    resource_types=(BUCKET,),
    check=check_bucket_versioned,
    nist="NIST 800-53 CP-9",
)
S3_BUCKET_LOGGED = StackRule(
    name="aws-s3-bucket-logged",
    family="audit",
    severity="medium",
    description="Every bucket except the log bucket writes server access logs.",
    remediation="Use the Bucket component with the stack's log bucket (checkov CKV_AWS_18).",
    hipaa=HIPAA["audit"],
    resource_types=(BUCKET,),
    check=check_bucket_logged,
    nist="NIST 800-53 AU-2",
)
