"""IAM documents the AWS components share."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi


def service_role_trust(service: str) -> str:
    """A trust policy that lets only the AWS service ``service`` (e.g. ec2.amazonaws.com) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
        }
    )


def containers_policy(kms_key_arn: str, bucket_arns: Sequence[str], object_arns: Sequence[str] = ()) -> str:
    """What a system's containers role may do: read and write the system's buckets (SSE-KMS with the stack key)
    and read the single objects it names outside them (a model pack), nothing else."""
    statements: list[dict] = []
    if bucket_arns:
        statements += [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": list(bucket_arns)},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{arn}/*" for arn in bucket_arns],
            },
        ]
    if object_arns:
        statements.append(
            {"Sid": "ReadModelPacks", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": list(object_arns)}
        )
    statements.append({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": kms_key_arn})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def s3_object_arn(partition: pulumi.Input[str], url: str) -> pulumi.Output[str]:
    """The ARN of the object at ``s3://bucket/key`` in ``partition``."""
    return pulumi.Output.concat("arn:", partition, ":s3:::", url.removeprefix("s3://"))
