"""``Network``: a VPC over several zones with public subnets for the load balancer only."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.clouds.aws.iam import service_role_trust


def subnet_plan(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(public, private) subnet CIDRs: small public ones for the ALB and NAT, large private ones."""
    net = ipaddress.IPv4Network(cidr)
    halves = list(net.subnets(prefixlen_diff=1))
    private = [str(s) for s in list(halves[0].subnets(prefixlen_diff=2))[:zones]]
    public = [str(s) for s in list(halves[1].subnets(prefixlen_diff=3))[:zones]]
    return public, private


class Network(pulumi.ComponentResource):
    """A VPC with public and private subnets in ``zones`` availability zones.

    Secure defaults: public subnets never assign public IPs (only the ALB
    and NAT live there); workloads and data services in private subnets
    with outbound access through NAT (one per zone when ``nat_per_zone``, else one);
    the default security group stripped of all rules; VPC flow logs of all
    traffic to a CloudWatch log group encrypted with the stack key and kept
    a year; an S3 gateway endpoint so bucket traffic stays off the internet.
    With ``cluster_name`` (EKS) the subnets carry the tags by which load
    balancers for Kubernetes Services find them.
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_cidrs: list[str]

    def __init__(
        self,
        name: str,
        *,
        cidr: str,
        zones: Sequence[pulumi.Input[str]],
        region: str,
        kms_key_arn: pulumi.Input[str],
        tags: Mapping[str, str],
        nat_per_zone: bool,
        cluster_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(tags)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-default-deny"}, opts=child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_cidrs, private_cidrs = subnet_plan(cidr, len(zones))

        # An EKS cluster's load balancer controller finds its subnets by these tags (public: internet-facing).
        role_tags = (
            {"public": {"kubernetes.io/role/elb": "1"}, "private": {"kubernetes.io/role/internal-elb": "1"}}
            if cluster_name
            else {"public": {}, "private": {}}
        )

        def make_subnet(tier: str, index: int, cidr_block: str, zone: pulumi.Input[str]) -> aws.ec2.Subnet:
            return aws.ec2.Subnet(
                f"{name}-{tier}-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr_block,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-{tier}-{index}", "tier": tier, **role_tags[tier]},
                opts=child,
            )

        public = [make_subnet("public", i, public_cidrs[i], zone) for i, zone in enumerate(zones)]
        private = [make_subnet("private", i, private_cidrs[i], zone) for i, zone in enumerate(zones)]
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=tags,
            opts=child,
        )
        for index, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{index}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
        nat_count = len(zones) if nat_per_zone else 1
        nats = []
        for index in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{index}", domain="vpc", tags=tags, opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=eip.id,
                    subnet_id=public[index].id,
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        private_rts = []
        for index, subnet in enumerate(private):
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nats[index % nat_count].id)],
                tags=tags,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags=tags,
            opts=child,
        )
        self._flow_logs(name, vpc, kms_key_arn, tags)
        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.private_cidrs = private_cidrs[: len(zones)]
        self.register_outputs({"vpcId": vpc.id})

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, kms_key_arn: pulumi.Input[str], tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/clinical/{name}/vpc-flow-logs",
            retention_in_days=365,
            kms_key_id=kms_key_arn,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=service_role_trust("vpc-flow-logs.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Resource": f"{arn}:*",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child,
        )
