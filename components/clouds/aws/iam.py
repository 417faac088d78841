"""IAM documents the AWS components share."""

from __future__ import annotations

import json


def service_role_trust(service: str) -> str:
    """A trust policy that lets only the AWS service ``service`` (e.g. ec2.amazonaws.com) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
        }
    )
