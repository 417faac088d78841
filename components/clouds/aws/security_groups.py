"""Security groups built from declarative rules, one rule resource each (no inline rules to drift)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

WORLD_V4, WORLD_V6 = "0.0.0.0/0", "::/0"


@dataclass(frozen=True)
class Rule:
    """One allowed flow: ``source`` is a CIDR or another security group's id."""

    direction: Literal["ingress", "egress"]
    port: int
    description: str
    cidr: str | None = None
    peer: pulumi.Input[str] | None = None
    protocol: str = "tcp"
    to_port: int | None = None


def security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    description: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """An empty security group (no inline rules; ``revoke_rules_on_delete`` avoids delete deadlocks)."""
    return aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        description=description,
        revoke_rules_on_delete=True,
        tags={**tags, "Name": name},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def add_rules(
    name: str, group: aws.ec2.SecurityGroup, rules: Sequence[Rule], tags: Mapping[str, str], parent: pulumi.Resource
) -> None:
    """One ``SecurityGroupIngressRule``/``EgressRule`` resource per rule."""
    for index, rule in enumerate(rules):
        kind = aws.vpc.SecurityGroupIngressRule if rule.direction == "ingress" else aws.vpc.SecurityGroupEgressRule
        v6 = rule.cidr is not None and ":" in rule.cidr
        kind(
            f"{name}-{rule.direction}-{index}",
            security_group_id=group.id,
            ip_protocol=rule.protocol,
            from_port=rule.port,
            to_port=rule.to_port or rule.port,
            cidr_ipv4=rule.cidr if rule.cidr and not v6 else None,
            cidr_ipv6=rule.cidr if v6 else None,
            referenced_security_group_id=rule.peer,
            description=rule.description,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
