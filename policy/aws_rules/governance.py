"""Audit and governance across services: CloudWatch log groups, required tags, protect=True on state in prod."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.aws_rules.common import prod_grade, tags_of
from policy.aws_rules.tokens import BACKUP_VAULT, BUCKET, EBS_VOLUME, KMS_KEY, LOG_GROUP, RDS, REDIS, SECRET, TAGGABLE
from policy.rule import HIPAA, CheckContext, Rule

REQUIRED_TAG_KEYS = ("environment", "owner", "data-classification")


def check_log_group(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not props.get("kmsKeyId"):
        yield f"{ctx.name} is not encrypted with a customer-managed key"
    retention = int(props.get("retentionInDays") or 0)
    if retention == 0 or retention < 365:
        yield f"{ctx.name} keeps logs {'forever' if retention == 0 else f'{retention} days'}; keep them 365 days or more"


def check_protect_in_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    why = prod_grade(props, ctx)
    if why and not ctx.protect:
        yield f"{ctx.name} holds state {why} but is not created with protect=True"


def check_required_tags(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    missing = [t for t in REQUIRED_TAG_KEYS if not tags_of(props).get(t)]
    if missing:
        yield f"{ctx.name} lacks tags {missing}"


PROTECT_STATEFUL_PROD = Rule(
    name="aws-protect-stateful-prod",
    family="data-protection",
    severity="high",
    description="In prod, or holding PHI on any environment, stateful resources are created with protect=True.",
    remediation="Pass opts=ResourceOptions(protect=True); the platform's components do this when environment is prod.",
    hipaa=HIPAA["contingency"],
    resource_types=(RDS, REDIS, BUCKET, KMS_KEY, SECRET, EBS_VOLUME, BACKUP_VAULT),
    check=check_protect_in_prod,
    nist="NIST 800-53 CP-9",
)
LOG_GROUP_ENCRYPTED_RETAINED = Rule(
    name="aws-log-group-encrypted-retained",
    family="data-protection",
    severity="medium",
    description="Log groups are encrypted with the stack key and kept a year.",
    remediation="Set kms_key_id and retention_in_days >= 365 (checkov CKV_AWS_158, CKV_AWS_338).",
    hipaa=HIPAA["audit"],
    resource_types=(LOG_GROUP,),
    check=check_log_group,
    nist="NIST 800-53 AU-11",
)
REQUIRED_TAGS = Rule(
    name="aws-required-tags",
    family="governance",
    severity="low",
    description="Resources carry environment, owner and data-classification tags.",
    remediation="Set the stack's tags in config; the platform propagates them.",
    hipaa=HIPAA["risk-management"],
    resource_types=TAGGABLE,
    check=check_required_tags,
    nist="NIST 800-53 CM-8",
    default_enforcement="advisory",
)
