"""IAM: who the project, key, key ring and secret IAM resources let in, and with which roles.

Bucket IAM is judged with the buckets (``gcp-gcs-not-public``), because a
public bucket is an exposure rather than a privilege question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_public, members_of
from policy.gcp_rules.tokens import IAM
from policy.rule import HIPAA, CheckContext, Rule

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
DEFAULT_COMPUTE_MEMBER = re.compile(r"^serviceAccount:\d+-compute@developer\.gserviceaccount\.com$")


def check_iam_least_privilege(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for role, member in members_of(props):
        if is_public(member):
            yield f"{ctx.name} grants {role or 'a role'} to {member}: anyone"
        elif role in BASIC_ROLES:
            yield f"{ctx.name} grants the basic role {role} to {member}; grant predefined roles for what it needs"
        elif DEFAULT_COMPUTE_MEMBER.match(member):
            yield f"{ctx.name} grants {role} to the default compute service account; use the system's own account"


IAM_LEAST_PRIVILEGE = Rule(
    name="gcp-iam-least-privilege",
    family="hardening",
    severity="high",
    description="Project, KMS and Secret Manager IAM grant no public principal, no basic role and nothing to the default compute account.",
    remediation="Grant predefined roles (cryptoKeyEncrypterDecrypter, secretAccessor, ...) to named service accounts (checkov CKV_GCP_112, CKV_GCP_117, CKV_GCP_46, CKV2_GCP_6, CKV2_GCP_8).",
    hipaa=HIPAA["access-control"],
    resource_types=IAM,
    check=check_iam_least_privilege,
    nist="NIST 800-53 AC-6",
)
