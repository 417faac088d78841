"""IAM: who may assume a role, and what its policies allow."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.tokens import ROLE, ROLE_ATTACHMENT, ROLE_POLICY
from policy.rule import HIPAA, CheckContext, Rule

BROAD_MANAGED_POLICIES = {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AmazonS3FullAccess"}


def check_iam_least_privilege(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if ctx.resource_type == ROLE_ATTACHMENT:
        arn = str(props.get("policyArn") or "")
        if arn.rsplit("/", 1)[-1] in BROAD_MANAGED_POLICIES:
            yield f"{ctx.name} attaches the broad managed policy {arn.rsplit('/', 1)[-1]}"
        return
    document = props.get("assumeRolePolicy" if ctx.resource_type == ROLE else "policy")
    try:
        parsed = json.loads(document) if isinstance(document, str) else document or {}
    except json.JSONDecodeError:
        return
    statements = parsed.get("Statement") or []
    for st in [statements] if isinstance(statements, dict) else statements:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = st.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        principal = st.get("Principal")
        if ctx.resource_type == ROLE and (
            principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
        ):
            yield f"{ctx.name} can be assumed by anyone"
        if any(a == "*" or a.endswith(":*") for a in actions) and "*" in resources:
            yield f"{ctx.name} allows {actions} on every resource"


IAM_LEAST_PRIVILEGE = Rule(
    name="aws-iam-least-privilege",
    family="hardening",
    severity="high",
    description="Roles are not assumable by anyone and their policies grant no wildcard actions on every resource.",
    remediation="Name the actions and resources; never attach AdministratorAccess/PowerUserAccess (checkov CKV_AWS_274, CKV_AWS_355).",
    hipaa=HIPAA["access-control"],
    resource_types=(ROLE, ROLE_POLICY, ROLE_ATTACHMENT),
    check=check_iam_least_privilege,
    nist="NIST 800-53 AC-6",
)
