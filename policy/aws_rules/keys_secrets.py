"""Keys and secrets: KMS key rotation, the stack's customer-managed key in prod, Secrets Manager, and database
master passwords that rotate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import present, prod_grade, public_allows, truthy
from policy.aws_rules.tokens import (
    BACKUP_VAULT,
    EBS_VOLUME,
    KMS_KEY,
    LAUNCH_TEMPLATE,
    LOG_GROUP,
    RDS,
    RDS_CLUSTER,
    REDIS,
    SECRET,
)
from policy.rule import HIPAA, CheckContext, Rule


def check_kms_rotation(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if str(props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT" and not truthy(
        props.get("enableKeyRotation")
    ):
        yield f"{ctx.name} does not rotate its key material"


# Where a type names its key when that is not kmsKeyId.
KEY_INPUT = {BACKUP_VAULT: "kmsKeyArn"}


def check_kms_key_policy(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("bypassPolicyLockoutSafetyCheck")):
        yield f"{ctx.name} bypasses the policy lockout safety check: a wrong policy locks everyone out of the key"
    for st in public_allows(props.get("policy")):
        yield f"{ctx.name} lets any principal ({st.get('Action')}) use the key, with no condition"


def check_cmk_in_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    why = prod_grade(props, ctx)
    if not why:
        return
    if "blockDeviceMappings" in props:
        for mapping in props.get("blockDeviceMappings") or []:
            ebs = (mapping or {}).get("ebs") or {}
            if not ebs.get("kmsKeyId"):
                yield (
                    f"{ctx.name} {mapping.get('deviceName')} uses the AWS-managed key, not the stack's "
                    f"customer-managed key ({why})"
                )
    elif not props.get(KEY_INPUT.get(ctx.resource_type, "kmsKeyId")):
        yield f"{ctx.name} uses the AWS-managed key, not the stack's customer-managed key ({why})"


def check_secret_store(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("kmsKeyId"):
        yield f"{ctx.name} is encrypted with the AWS-managed key, not the stack key"
    window = props.get("recoveryWindowInDays")
    if window is not None and int(window) < 7:
        yield f"{ctx.name} can be deleted without a recovery window"


# The inputs through which a database gets a master password of the program's own (which nothing rotates).
LITERAL_PASSWORDS = {RDS: ("password", "passwordWo"), RDS_CLUSTER: ("masterPassword", "masterPasswordWo")}


def check_db_password_rotation(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("manageMasterUserPassword")):
        return
    given = [key for key in LITERAL_PASSWORDS.get(ctx.resource_type, ()) if present(props, key)]
    if given:
        yield (
            f"{ctx.name} has a master password of the program's own ({given[0]}) that never rotates; "
            "let RDS manage and rotate it (manageMasterUserPassword)"
        )


KMS_ROTATION = Rule(
    name="aws-kms-rotation",
    family="encryption",
    severity="high",
    description="Customer-managed symmetric keys rotate yearly.",
    remediation="Set enable_key_rotation = true (checkov CKV_AWS_7).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(KMS_KEY,),
    check=check_kms_rotation,
    nist="NIST 800-53 SC-12",
)
CMK_IN_PROD = Rule(
    name="aws-cmk-in-prod",
    family="encryption",
    severity="high",
    description="In prod, or holding PHI on any environment, data is encrypted with the stack's customer-managed key.",
    remediation="Pass the stack key's ARN as kms_key_id (kms_key_arn on a backup vault) (checkov CKV_AWS_189, "
    "CKV_AWS_166; cdk-nag HIPAA *KMS rules).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(RDS, REDIS, SECRET, LOG_GROUP, LAUNCH_TEMPLATE, EBS_VOLUME, BACKUP_VAULT),
    check=check_cmk_in_prod,
    nist="NIST 800-53 SC-12",
)
SECRET_MANAGED = Rule(
    name="aws-secret-managed",
    family="secrets",
    severity="medium",
    description="Secrets Manager secrets use the stack key and keep a recovery window.",
    remediation="Set kms_key_id and recovery_window_in_days >= 7 (checkov CKV_AWS_149).",
    hipaa=HIPAA["encryption-at-rest"],
    resource_types=(SECRET,),
    check=check_secret_store,
    nist="NIST 800-53 SC-28",
)
DB_PASSWORD_ROTATION = Rule(
    name="aws-rds-password-rotation",
    family="secrets",
    severity="high",
    description="Database master passwords are managed and rotated by RDS in Secrets Manager, not set by the program.",
    remediation="Set manage_master_user_password = true and master_user_secret_kms_key_id to the stack key instead of "
    "password, and have the applications read the managed secret (the platform's VMs do at every start, and restart "
    "when it rotates). On EKS, where pods read the password from a Kubernetes Secret, the platform keeps a generated "
    "password until an operator-side secret sync (External Secrets) follows the managed secret into the namespace "
    "and rolls the pods; waive the finding until then (cdk-nag HIPAA.Security-SecretsManagerRotationEnabled).",
    hipaa=HIPAA["password-management"],
    resource_types=(RDS, RDS_CLUSTER),
    check=check_db_password_rotation,
    nist="NIST 800-53 IA-5(1)",
)
KMS_KEY_POLICY = Rule(
    name="aws-kms-key-policy",
    family="encryption",
    severity="critical",
    description="Key policies let no unconditioned `*` principal in and keep the lockout safety check.",
    remediation="Name the account root and the services that use the key (with conditions on their source), never "
    'Principal "*" without a Condition; leave bypass_policy_lockout_safety_check false '
    "(checkov CKV_AWS_33, CKV2_AWS_64).",
    hipaa=HIPAA["access-control"],
    resource_types=(KMS_KEY,),
    check=check_kms_key_policy,
    nist="NIST 800-53 AC-3",
)
