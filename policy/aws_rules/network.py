"""Network exposure: VPCs, subnets and security groups, and which data stores the internet can reach.

Checks accept every shape the provider accepts: separate rule resources
and inline security group blocks, IPv4 and IPv6, port ranges and the
"all protocols" value, and missing optional blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policy.aws_rules.common import dependents, known, refers_to, truthy
from policy.aws_rules.tokens import (
    DEFAULT_SG,
    FLOW_LOG,
    INSTANCE,
    LAUNCH_TEMPLATE,
    LOAD_BALANCERS,
    RDS,
    REDIS,
    SG,
    SG_EGRESS,
    SG_INGRESS,
    SG_RULE,
    SG_TYPES,
    SUBNET,
    VPC,
)
from policy.rule import HIPAA, CheckContext, Rule, StackResource, StackRule

WORLD = {"0.0.0.0/0", "::/0"}
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int]:
    """The port range a rule opens; "all protocols" (-1) opens everything."""
    if str(protocol) in {"-1", "all"}:
        return 0, 65535
    low = int(from_port if from_port not in (None, "") else 0)
    high = int(to_port if to_port not in (None, "") else low)
    if low == -1:
        return 0, 65535
    return low, high


def _ingress(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[set[str], str, int, int]]:
    """(source CIDRs, protocol, from, to) of every ingress a resource opens, in any accepted shape."""
    if resource_type == SG_INGRESS:
        cidrs = {c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c}
        low, high = _ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
        yield cidrs, str(props.get("ipProtocol")), low, high
    elif resource_type == SG_RULE and props.get("type") == "ingress":
        cidrs = set(props.get("cidrBlocks") or []) | set(props.get("ipv6CidrBlocks") or [])
        low, high = _ports(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
        yield cidrs, str(props.get("protocol")), low, high
    elif resource_type == SG:
        for block in props.get("ingresses") or props.get("ingress") or []:
            if not block:
                continue
            cidrs = set(block.get("cidrBlocks") or []) | set(block.get("ipv6CidrBlocks") or [])
            low, high = _ports(block.get("protocol"), block.get("fromPort"), block.get("toPort"))
            yield cidrs, str(block.get("protocol")), low, high


def check_no_admin_ports(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    for cidrs, protocol, low, high in _ingress(ctx.resource_type, props):
        for port, what in ADMIN_PORTS.items():
            if low <= port <= high and cidrs:
                yield f"{ctx.name} opens {what} ({port}/{protocol}) to {sorted(cidrs)}; manage VMs through SSM Session Manager"


def check_no_public_ip(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("mapPublicIpOnLaunch")) or truthy(props.get("associatePublicIpAddress")):
        yield f"{ctx.name} gives instances public IP addresses"
    for nic in props.get("networkInterfaces") or []:
        if nic and truthy(nic.get("associatePublicIpAddress")):
            yield f"{ctx.name} attaches a public IP address to its network interface"


def check_default_sg_closed(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if props.get("ingress") or props.get("egress"):
        yield f"{ctx.name} keeps rules on the VPC's default security group; strip them all"


def check_egress(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    world = {props.get("cidrIpv4"), props.get("cidrIpv6")} & WORLD
    if not world:
        return
    low, high = _ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
    if (low, high) == (0, 65535) or high - low > 0:
        yield f"{ctx.name} allows ports {low}-{high} to the internet; allow single ports (443, 587) only"


NO_ADMIN_PORTS = Rule(
    name="aws-no-admin-ports",
    family="firewall",
    severity="critical",
    description="SSH (22) and RDP (3389) are not opened to any address.",
    remediation="Remove the rule; use SSM Session Manager (checkov CKV_AWS_24, CKV_AWS_25).",
    hipaa=HIPAA["access-control"],
    resource_types=SG_TYPES,
    check=check_no_admin_ports,
    nist="NIST 800-53 AC-17",
)
NO_PUBLIC_IP = Rule(
    name="aws-no-public-ip",
    family="firewall",
    severity="high",
    description="VMs and private subnets never get public IP addresses.",
    remediation="Set associate_public_ip_address = false and map_public_ip_on_launch = false (checkov CKV_AWS_88, CKV_AWS_130).",
    hipaa=HIPAA["access-control"],
    resource_types=(LAUNCH_TEMPLATE, INSTANCE, SUBNET),
    check=check_no_public_ip,
    nist="NIST 800-53 SC-7",
)
DEFAULT_SG_CLOSED = Rule(
    name="aws-default-sg-closed",
    family="firewall",
    severity="high",
    description="The VPC's default security group has no rules.",
    remediation="Manage it with aws.ec2.DefaultSecurityGroup and no ingress/egress (checkov CKV2_AWS_12).",
    hipaa=HIPAA["access-control"],
    resource_types=(DEFAULT_SG,),
    check=check_default_sg_closed,
    nist="NIST 800-53 SC-7",
)
SG_EGRESS_RESTRICTED = Rule(
    name="aws-sg-egress-restricted",
    family="firewall",
    severity="medium",
    description="Egress to the internet is limited to single named ports.",
    remediation="Allow 443 (and 587 for mail) to 0.0.0.0/0; reach data services by security group.",
    hipaa=HIPAA["access-control"],
    resource_types=(SG_EGRESS,),
    check=check_egress,
    nist="NIST 800-53 SC-7(5)",
)


# --- stack-level rules ----------------------------------------------------------------------

# Rule resources that name a peer group rather than the group they belong to.
PEER_KEYS = ("referencedSecurityGroupId", "sourceSecurityGroupId")


def _owning_groups(rule: StackResource, groups: list[StackResource]) -> list[StackResource]:
    """The security group(s) a rule may belong to: itself for inline blocks; else the group its securityGroupId
    names, read from its dependencies (a group's ID is an output the engine does not hand to policies). When a
    rule depends on more than one group and its peer is unknown, every one of them is a candidate."""
    if rule.resource_type == SG:
        return [rule]
    candidates = [g for g in groups if refers_to(rule, "securityGroupId", g, "id")]
    peers = {str(known(rule.props, key)) for key in PEER_KEYS if known(rule.props, key)}
    owned = [g for g in candidates if str(known(g.props, "id")) not in peers]
    return owned or candidates


def _faces_internet(lb: StackResource) -> bool:
    """A load balancer that is not internal; one whose ``internal`` is unknown at preview does not count."""
    try:
        return not truthy(lb.props.get("internal"))
    except UnknownValueError:
        return False


def _world_web_only(protocol: str, low: int, high: int) -> bool:
    return protocol in {"tcp", "6"} and low == high and low in {80, 443}


def check_no_world_ingress(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Nothing is open to the world but 80/443 on a group attached to an internet-facing load balancer of this
    stack (its ``securityGroups`` names the group). Tags play no part. Values unknown at preview: a CIDR that is
    not known yet is judged at ``up``; a rule whose group, or a group whose load balancer, cannot be told from
    its dependencies counts as not attached (a finding)."""
    groups = [r for r in resources if r.resource_type == SG]
    facing = [r for r in resources if r.resource_type in LOAD_BALANCERS and _faces_internet(r)]
    on_lb = {g.urn for g in groups if any(refers_to(lb, "securityGroups", g, "id") for lb in facing)}
    for rule in (r for r in resources if r.resource_type in SG_TYPES):
        try:
            openings = list(_ingress(rule.resource_type, rule.props))
        except UnknownValueError:
            continue  # a CIDR or port computed by another resource: the engine judges it at `up`
        owners = _owning_groups(rule, groups)
        for cidrs, protocol, low, high in openings:
            world = cidrs & WORLD
            if not world:
                continue
            if _world_web_only(protocol, low, high) and owners and all(o.urn in on_lb for o in owners):
                continue
            where = f"ports {low}-{high}" if low != high else f"port {low}"
            group = f" (group {', '.join(o.name for o in owners)})" if owners and owners != [rule] else ""
            yield (
                rule.urn,
                f"{rule.name}{group} opens {where}/{protocol} to {sorted(world)}; only a group attached to an "
                "internet-facing load balancer of this stack may accept 80/443 from anywhere",
            )


def check_vpc_flow_logs(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for vpc in (r for r in resources if r.resource_type == VPC):
        if not dependents(resources, vpc, FLOW_LOG):
            yield vpc.urn, f"{vpc.name} has no flow log"


def check_default_sg_managed(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    for vpc in (r for r in resources if r.resource_type == VPC):
        if not dependents(resources, vpc, DEFAULT_SG):
            yield (
                vpc.urn,
                f"{vpc.name} leaves its default security group unmanaged (it allows all traffic between members)",
            )


def check_db_security_groups(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """A database is exposed if a security group it uses admits the world, whatever the DB's own flags say."""
    by_urn = {r.urn: r for r in resources}
    for db in (r for r in resources if r.resource_type in (RDS, REDIS)):
        for urn in db.dependencies:
            group = by_urn.get(urn)
            if group is None or group.resource_type != SG:
                continue
            rules = [r for r in resources if r.resource_type in (SG_INGRESS, SG_RULE) and group.urn in r.dependencies]
            for rule in [group, *rules]:
                for cidrs, _protocol, _low, _high in _ingress(rule.resource_type, rule.props):
                    if cidrs & WORLD:
                        yield db.urn, f"{db.name} is reachable from the internet through {group.name} ({rule.name})"


SG_NO_WORLD_INGRESS = StackRule(
    name="aws-sg-no-world-ingress",
    family="firewall",
    severity="critical",
    description="Nothing is open to 0.0.0.0/0 or ::/0 except 80/443 on a security group attached to an "
    "internet-facing load balancer of the same stack.",
    remediation="Reference the peer security group instead of a CIDR; only a load balancer's group takes 80/443 from "
    "anywhere (checkov CKV_AWS_260, CKV2_AWS_5).",
    hipaa=HIPAA["access-control"],
    resource_types=SG_TYPES,
    check=check_no_world_ingress,
    nist="NIST 800-53 SC-7",
)
VPC_FLOW_LOGS = StackRule(
    name="aws-vpc-flow-logs",
    family="audit",
    severity="high",
    description="Every VPC records flow logs.",
    remediation="Add an aws.ec2.FlowLog for the VPC (checkov CKV2_AWS_11).",
    hipaa=HIPAA["audit"],
    resource_types=(VPC,),
    check=check_vpc_flow_logs,
    nist="NIST 800-53 AU-12",
)
VPC_DEFAULT_SG_MANAGED = StackRule(
    name="aws-vpc-default-sg-managed",
    family="firewall",
    severity="medium",
    description="Every VPC's default security group is taken over and stripped of rules.",
    remediation="Add an aws.ec2.DefaultSecurityGroup for the VPC with no rules (checkov CKV2_AWS_12).",
    hipaa=HIPAA["access-control"],
    resource_types=(VPC,),
    check=check_default_sg_managed,
    nist="NIST 800-53 SC-7",
)
DB_NOT_WORLD_REACHABLE = StackRule(
    name="aws-db-not-world-reachable",
    family="firewall",
    severity="critical",
    description="No database or cache sits behind a security group that admits the internet.",
    remediation="Allow the data port only from the workload security group.",
    hipaa=HIPAA["access-control"],
    resource_types=(RDS, REDIS),
    check=check_db_security_groups,
    nist="NIST 800-53 SC-7",
)
