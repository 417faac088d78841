"""``StackKey``: the customer-managed KMS key every encrypted resource of a stack uses."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def key_policy(account_id: str, partition: str, region: str) -> str:
    """Account administrators manage the key; CloudWatch Logs may use it for this account's log groups."""
    root = f"arn:{partition}:iam::{account_id}:root"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:*"
                        }
                    },
                },
            ],
        }
    )


class StackKey(pulumi.ComponentResource):
    """One customer-managed KMS key per stack, rotated yearly, 30-day deletion window, ``protect``-ed when asked."""

    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        account_id: pulumi.Input[str],
        partition: pulumi.Input[str],
        region: str,
        tags: Mapping[str, str],
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:StackKey", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Clinical platform stack key ({name})",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account_id, partition).apply(lambda v: key_policy(v[0], v[1], region)),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/clinical/{name}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = key.arn
        self.register_outputs({"arn": key.arn})
