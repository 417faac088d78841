"""Estimated deployment critical path: the longest chain of creations in the dependency graph.

Durations are typical creation times per resource type (Terraform apply
logs for cloud resources, testing-and-ci.md 5.3; measured ``docker``
operations for containers). The engine creates independent resources in
parallel, so the stack takes about as long as its longest chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from offline.harness import Captured

# Seconds to create one resource of the type; unknown custom types take DEFAULT_SECONDS.
CREATE_SECONDS: dict[str, float] = {
    "docker:index/remoteImage:RemoteImage": 90.0,  # multi-GB ML images over a hospital link
    "docker:index/container:Container": 15.0,
    "docker:index/network:Network": 1.0,
    "docker:index/volume:Volume": 1.0,
    "random:index/randomPassword:RandomPassword": 0.1,
    "random:index/randomBytes:RandomBytes": 0.1,
    "tls:index/privateKey:PrivateKey": 0.2,
    "tls:index/selfSignedCert:SelfSignedCert": 0.2,
    "tls:index/certRequest:CertRequest": 0.1,
    "tls:index/locallySignedCert:LocallySignedCert": 0.2,
    # AWS: creation times seen in Terraform apply logs (testing-and-ci.md 5.3) and AWS documentation.
    "aws:ec2/vpc:Vpc": 3.0,
    "aws:ec2/subnet:Subnet": 5.0,
    "aws:ec2/internetGateway:InternetGateway": 3.0,
    "aws:ec2/eip:Eip": 2.0,
    "aws:ec2/natGateway:NatGateway": 100.0,
    "aws:ec2/routeTable:RouteTable": 3.0,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 1.0,
    "aws:ec2/securityGroup:SecurityGroup": 3.0,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 1.0,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 1.0,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 10.0,
    "aws:ec2/flowLog:FlowLog": 5.0,
    "aws:cloudwatch/logGroup:LogGroup": 2.0,
    "aws:iam/role:Role": 3.0,
    "aws:iam/rolePolicy:RolePolicy": 2.0,
    "aws:iam/instanceProfile:InstanceProfile": 8.0,
    "aws:kms/key:Key": 5.0,
    "aws:rds/instance:Instance": 240.0,
    "aws:rds/parameterGroup:ParameterGroup": 5.0,
    "aws:elasticache/replicationGroup:ReplicationGroup": 420.0,
    "aws:lb/loadBalancer:LoadBalancer": 150.0,
    "aws:acm/certificateValidation:CertificateValidation": 300.0,
    "aws:route53/record:Record": 45.0,
    "aws:wafv2/webAclAssociation:WebAclAssociation": 30.0,
    "aws:autoscaling/group:Group": 420.0,  # GPU VM boot, image pulls and ELB health checks
    "aws:s3/bucket:Bucket": 3.0,
}
DEFAULT_SECONDS = 5.0


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain, first resource first, with its total duration."""

    seconds: float
    chain: list[tuple[str, str, float]]  # (type, name, seconds)


def critical_path(resources: Iterable[Captured], durations: dict[str, float] | None = None) -> CriticalPath:
    """Longest path through the custom resources, following dependencies through components."""
    table = {**CREATE_SECONDS, **(durations or {})}
    records = list(resources)
    by_urn = {r.urn: r for r in records}
    children: dict[str, list[str]] = {}
    for r in records:
        children.setdefault(r.parent, []).append(r.urn)

    def customs_under(urn: str) -> list[str]:
        record = by_urn.get(urn)
        if record is None:
            return []
        if record.custom:
            return [urn]
        return [c for child in children.get(urn, []) for c in customs_under(child)]

    deps: dict[str, set[str]] = {}
    for r in records:
        if r.custom:
            deps[r.urn] = {c for d in r.dependencies for c in customs_under(d) if c != r.urn}

    @cache
    def finish(urn: str) -> tuple[float, tuple[str, ...]]:
        own = table.get(by_urn[urn].type, DEFAULT_SECONDS)
        best: tuple[float, tuple[str, ...]] = (0.0, ())
        for d in deps[urn]:
            candidate = finish(d)
            if candidate[0] > best[0]:
                best = candidate
        return best[0] + own, (*best[1], urn)

    if not deps:
        return CriticalPath(0.0, [])
    total, chain = max((finish(u) for u in deps), key=lambda t: t[0])
    return CriticalPath(
        round(total, 1),
        [(by_urn[u].type, by_urn[u].name, table.get(by_urn[u].type, DEFAULT_SECONDS)) for u in chain],
    )
