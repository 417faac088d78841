"""IAM: who the project, key, key ring and secret IAM resources let in, and with which roles.

Bucket IAM is judged with the buckets (``gcp-gcs-not-public``), because a
public bucket is an exposure rather than a privilege question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_public, members_of
from policy.gcp_rules.tokens import IAM, PROJECT_IAM_BINDING, PROJECT_IAM_MEMBER, PROJECT_IAM_POLICY, SA_IAM
from policy.rule import HIPAA, CheckContext, Rule

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
DEFAULT_COMPUTE_MEMBER = re.compile(r"^serviceAccount:\d+-compute@developer\.gserviceaccount\.com$")
PROJECT_IAM = (PROJECT_IAM_MEMBER, PROJECT_IAM_BINDING, PROJECT_IAM_POLICY)
# On the project they let the member act as every service account in it (checkov CKV_GCP_41, CKV_GCP_49).
IMPERSONATION_ROLES = {"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"}
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
# One Kubernetes service account of one namespace in a workload pool: <project>.svc.id.goog[<namespace>/<name>].
ONE_KUBERNETES_ACCOUNT = re.compile(r"^serviceAccount:[a-z0-9.:-]+\.svc\.id\.goog\[[a-z0-9-]+/[a-z0-9.-]+\]$")


def check_iam_least_privilege(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for role, member in members_of(props):
        if is_public(member):
            yield f"{ctx.name} grants {role or 'a role'} to {member}: anyone"
        elif role in BASIC_ROLES:
            yield f"{ctx.name} grants the basic role {role} to {member}; grant predefined roles for what it needs"
        elif DEFAULT_COMPUTE_MEMBER.match(member):
            yield f"{ctx.name} grants {role} to the default compute service account; use the system's own account"
        elif role in IMPERSONATION_ROLES and ctx.resource_type in PROJECT_IAM:
            yield (
                f"{ctx.name} grants {role} on the project to {member}: it can act as every service account in it; "
                "grant it on the one service account it needs"
            )


def check_service_account_iam(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for role, member in members_of(props):
        if is_public(member):
            yield f"{ctx.name} lets {member} act as the service account ({role}): anyone"
        elif role in BASIC_ROLES:
            yield f"{ctx.name} grants the basic role {role} on a service account to {member}"
        elif role == WORKLOAD_IDENTITY_USER and not ONE_KUBERNETES_ACCOUNT.match(member):
            yield (
                f"{ctx.name} lets {member} be the service account through Workload Identity; name one Kubernetes "
                "service account (serviceAccount:<project>.svc.id.goog[<namespace>/<name>])"
            )
        elif role == "roles/iam.serviceAccountKeyAdmin":
            yield f"{ctx.name} lets {member} create keys for the service account: long-lived credentials off GCP"


IAM_LEAST_PRIVILEGE = Rule(
    name="gcp-iam-least-privilege",
    family="hardening",
    severity="high",
    description="Project, KMS and Secret Manager IAM grant no public principal, no basic role, nothing to the default compute account, and no project-wide service account user or token creator role.",
    remediation="Grant predefined roles (cryptoKeyEncrypterDecrypter, secretAccessor, ...) to named service accounts, and impersonation roles on one service account, not the project (checkov CKV_GCP_112, CKV_GCP_117, CKV_GCP_46, CKV_GCP_41, CKV_GCP_49, CKV2_GCP_6, CKV2_GCP_8).",
    hipaa=HIPAA["access-control"],
    resource_types=IAM,
    check=check_iam_least_privilege,
    nist="NIST 800-53 AC-6",
)
SERVICE_ACCOUNT_IAM = Rule(
    name="gcp-service-account-iam",
    family="hardening",
    severity="high",
    description="Who may act as a service account: no public principal, no basic role, no key admin, and Workload "
    "Identity for one Kubernetes service account at a time.",
    remediation="Grant roles/iam.workloadIdentityUser to serviceAccount:<project>.svc.id.goog[<namespace>/<name>] "
    "only (the platform's GKE runtime does, per service); never allUsers, basic roles or serviceAccountKeyAdmin.",
    hipaa=HIPAA["access-control"],
    resource_types=SA_IAM,
    check=check_service_account_iam,
    nist="NIST 800-53 AC-6",
)
