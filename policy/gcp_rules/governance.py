"""Governance across GCP services: stateful resources carry Pulumi ``protect`` in prod."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import is_prod
from policy.gcp_rules.tokens import BUCKET, CRYPTO_KEY, DISK, GKE_BACKUP_PLAN, REDIS, SECRETS, SQL_INSTANCE
from policy.rule import HIPAA, CheckContext, Rule


def check_protect_in_prod(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if is_prod(props, ctx) and not ctx.protect:
        yield f"{ctx.name} holds state in prod but is not created with protect=True"


PROTECT_STATEFUL_PROD = Rule(
    name="gcp-protect-stateful-prod",
    family="data-protection",
    severity="high",
    description="In prod, Cloud SQL, Memorystore, buckets, persistent disks, KMS keys, secrets and GKE backup plans "
    "are created with protect=True.",
    remediation="Pass opts=ResourceOptions(protect=True) (Resilience.protect); a deleted KMS key loses every byte it encrypts, a deleted backup plan its backups (checkov CKV_GCP_82 for keys).",
    hipaa=HIPAA["contingency"],
    resource_types=(SQL_INSTANCE, REDIS, BUCKET, DISK, CRYPTO_KEY, *SECRETS, GKE_BACKUP_PLAN),
    check=check_protect_in_prod,
    nist="NIST 800-53 CP-9",
)
