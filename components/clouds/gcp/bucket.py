"""``Bucket``: private, CMEK-encrypted, versioned Cloud Storage with access logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.clouds.gcp.labels import gcp_labels

# Google writes usage and storage logs into a log bucket as this group (Cloud Storage's usage-logs docs).
LOG_WRITER = "group:cloud-storage-analytics@google.com"
SECONDS_PER_DAY = 86_400
ABORT_UPLOADS_AFTER_DAYS = 7


def lifecycle_rules(noncurrent_days: int | None, expire_days: int | None) -> list[gcp.storage.BucketLifecycleRuleArgs]:
    """Abort stale uploads always; delete noncurrent versions and old objects when asked."""
    rules = [
        gcp.storage.BucketLifecycleRuleArgs(
            action=gcp.storage.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
            condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=ABORT_UPLOADS_AFTER_DAYS),
        )
    ]
    if noncurrent_days is not None:
        rules.append(
            gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    days_since_noncurrent_time=noncurrent_days, with_state="ARCHIVED"
                ),
            )
        )
    if expire_days is not None:
        rules.append(
            gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=expire_days, with_state="ANY"),
            )
        )
    return rules


class Bucket(pulumi.ComponentResource):
    """A Cloud Storage bucket with the controls a hospital's review expects.

    Secure defaults: uniform bucket-level access (no object ACLs); public
    access prevention ``enforced``, whatever IAM says; objects encrypted by
    default with the stack's ``storage`` key (CMEK); object versioning;
    lifecycle rules that abort stale uploads and, when asked, delete
    noncurrent versions and expire objects; access logs to the stack's log
    bucket; a retention policy when given, left unlocked (locking is
    irreversible, an operator's decision); no ``force_destroy`` unless asked;
    ``protect`` when the stack's resilience asks for it. GCS serves only
    HTTPS, so there is no TLS-only policy to add.

    The log bucket itself is the one bucket without CMEK (``kms_key_id=None``,
    with ``log_bucket=None``): it keeps Google-managed encryption so the audit
    trail stays readable when the stack's keys are disabled or destroyed
    (destroying a stack destroys its key versions), and it holds request
    metadata, never object content. It lets Google's log writer create
    objects in it, and nothing else.

    GCS refuses versioning on a bucket with a retention policy, so a bucket
    with ``retention_days`` is not versioned: the policy already stops any
    object from being deleted or replaced before its time.
    """

    name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        location: str,
        kms_key_id: pulumi.Input[str] | None,
        log_bucket: pulumi.Input[str] | None,
        labels: Mapping[str, str],
        noncurrent_days: int | None = None,
        expire_days: int | None = None,
        retention_days: int | None = None,
        protect: bool = False,
        force_destroy: bool = False,
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if kms_key_id is None and log_bucket is not None:
            raise ValueError(f"bucket {name}: only the log bucket (log_bucket=None) may go without a KMS key")
        if retention_days is not None and expire_days is not None and expire_days < retention_days:
            raise ValueError(
                f"bucket {name}: objects cannot expire after {expire_days} days while retained for {retention_days}"
            )
        super().__init__("clinical:gcp:Bucket", name, None, opts)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            project=project,
            location=location.upper(),  # GCS reports locations in upper case; this keeps the diff empty
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=kms_key_id) if kms_key_id else None,
            versioning=gcp.storage.BucketVersioningArgs(enabled=retention_days is None),
            lifecycle_rules=lifecycle_rules(noncurrent_days, expire_days),
            logging=gcp.storage.BucketLoggingArgs(log_bucket=log_bucket, log_object_prefix=f"gcs/{name}/")
            if log_bucket is not None
            else None,
            retention_policy=gcp.storage.BucketRetentionPolicyArgs(
                retention_period=str(retention_days * SECONDS_PER_DAY), is_locked=False
            )
            if retention_days is not None
            else None,
            force_destroy=force_destroy,
            labels=gcp_labels(labels),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=list(after)),
        )
        if log_bucket is None:
            gcp.storage.BucketIAMMember(
                f"{name}-log-writer",
                bucket=bucket.name,
                role="roles/storage.objectCreator",
                member=LOG_WRITER,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.name = bucket.name
        self.url = bucket.url
        self.register_outputs({"name": bucket.name, "url": bucket.url})


def object_reader(
    name: str, url: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> gcp.storage.BucketIAMMember:
    """Read on the single object ``gs://bucket/object`` (a model pack in a bucket the system does not own) for
    ``member``, through an IAM condition on the object's name (the bucket needs uniform bucket-level access)."""
    bucket, _, obj = url.removeprefix("gs://").partition("/")
    return gcp.storage.BucketIAMMember(
        name,
        bucket=bucket,
        role="roles/storage.objectViewer",
        member=member,
        condition=gcp.storage.BucketIAMMemberConditionArgs(
            title=f"reads {obj}"[:100],
            description="This object only (a model pack)",
            expression=f'resource.name == "projects/_/buckets/{bucket}/objects/{obj}"',
        ),
        opts=opts,
    )
