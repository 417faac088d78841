"""``ManagedRedis``: a system's Redis on Amazon ElastiCache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.endpoints import RedisEndpoint
from components.resilience import Resilience
from components.specs import RedisSpec

NODE_TYPES = {
    "small": ("cache.t4g.small", 0.032),
    "medium": ("cache.m6g.large", 0.149),
    "large": ("cache.r6g.large", 0.206),
}


class ManagedRedis(pulumi.ComponentResource):
    """An ElastiCache Redis replication group for one system.

    Secure defaults: encryption at rest with the stack key and in transit
    (TLS, so clients use ``rediss://``), an AUTH token from pulumi-random,
    private subnets and only the system's workload security group; daily
    snapshots kept ``backup_days``; with ``multi_az`` two nodes in different
    zones with automatic failover; ``protect`` from the stack's ``Resilience``. TLS and AUTH
    are set at creation because changing them later replaces the group.
    """

    endpoint: RedisEndpoint

    def __init__(
        self,
        name: str,
        spec: RedisSpec,
        *,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        sizing: str,
        resilience: Resilience,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:ManagedRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(f"{name}-auth-token", length=64, special=False, opts=child)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", subnet_ids=list(subnet_ids), tags=dict(tags), opts=child
        )
        major = spec.version.split(".")[0]
        params = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=f"redis{major}",
            description=f"Parameters of {name}",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value=spec.eviction_policy)
            ],
            tags=dict(tags),
            opts=child,
        )
        node_type, _ = NODE_TYPES[sizing]
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description=f"Redis of {name}",
            engine="redis",
            engine_version=spec.version,
            node_type=node_type,
            num_cache_clusters=2 if resilience.multi_az else 1,
            automatic_failover_enabled=resilience.multi_az,
            multi_az_enabled=resilience.multi_az,
            at_rest_encryption_enabled=True,
            kms_key_id=kms_key_arn,
            transit_encryption_enabled=True,
            auth_token=token.result,
            port=6379,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group_id],
            parameter_group_name=params.name,
            snapshot_retention_limit=resilience.backup_days,
            auto_minor_version_upgrade=True,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=resilience.protect),
        )
        self.endpoint = RedisEndpoint(
            host=group.primary_endpoint_address, port=6379, password=pulumi.Output.secret(token.result), tls=True
        )
        self.register_outputs({"address": group.primary_endpoint_address})
