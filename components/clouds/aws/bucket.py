"""``Bucket``: private, encrypted, versioned S3 storage that only accepts TLS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LogDelivery:
    """Who may write logs into a log bucket: the region's ELB account and this account's S3 logging."""

    elb_account_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]


def log_delivery_statements(bucket_arn: str, elb_account_arn: str, account_id: str) -> list[dict]:
    """Let ALB access logs (under alb/) and S3 server access logs (under s3/) be delivered."""
    return [
        {
            "Sid": "AlbAccessLogs",
            "Effect": "Allow",
            "Principal": {"AWS": elb_account_arn},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/alb/*",
        },
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/s3/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]


def tls_only_policy(bucket_arn: str, extra_statements: list[dict] | None = None) -> str:
    """A bucket policy that denies every request not made over TLS."""
    statements = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        *(extra_statements or []),
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class Bucket(pulumi.ComponentResource):
    """An S3 bucket with the controls a hospital's review expects, as separate resources.

    Secure defaults: SSE-KMS with the stack key and a bucket key (or SSE-S3
    for access-log buckets, the only encryption ALB and S3 log delivery
    accept); versioning; all four public-access blocks; object ownership
    enforced (ACLs off); a policy that denies non-TLS requests; lifecycle
    rules expiring old versions and aborting stale uploads; server access
    logs to the stack's log bucket; ``protect`` when the stack's resilience asks for it.
    """

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        kms_key_arn: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        log_bucket: pulumi.Input[str] | None,
        noncurrent_days: int = 90,
        expire_days: int | None = None,
        log_delivery: LogDelivery | None = None,
        protect: bool = False,
        force_destroy: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:Bucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=f"{name[:36]}-",
            force_destroy=force_destroy,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms" if kms_key_arn is not None else "AES256", kms_master_key_id=kms_key_arn
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=by_default, bucket_key_enabled=kms_key_arn is not None
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(
                bucket.arn,
                log_delivery.elb_account_arn if log_delivery else "",
                log_delivery.account_id if log_delivery else "",
            ).apply(
                lambda v: tls_only_policy(v[0], log_delivery_statements(v[0], v[1], v[2]) if log_delivery else None)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=noncurrent_days
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                ),
            )
        ]
        if expire_days:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-objects",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_days),
                )
            )
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket.id, rules=rules, opts=child)
        if log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging", bucket=bucket.id, target_bucket=log_bucket, target_prefix=f"s3/{name}/", opts=child
            )
        self.name = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"name": bucket.bucket, "arn": bucket.arn})
