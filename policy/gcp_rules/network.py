"""Network exposure: VPC firewall rules, custom-mode networks and their subnetworks.

On GCP nothing needs the internet as a firewall source: the external
Application Load Balancer reaches backends from Google's proxy and health
check ranges (35.191.0.0/16, 130.211.0.0/22) and IAP TCP forwarding from
35.235.240.0/20. Checks accept every shape the provider accepts: IPv4 and
IPv6 sources, single ports and ranges, protocol names and numbers, "all",
a protocol without ports (every port), and an ingress rule with no source
at all (which GCP reads as 0.0.0.0/0).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from policy.gcp_rules.common import explicitly_false, number, truthy
from policy.gcp_rules.tokens import FIREWALL, NETWORK, SUBNETWORK
from policy.rule import HIPAA, CheckContext, Rule

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
DATA_PORTS = {
    1433: "SQL Server",
    2379: "etcd",
    3306: "MySQL",
    5432: "PostgreSQL",
    5984: "CouchDB",
    6378: "Memorystore Redis (TLS)",
    6379: "Redis",
    7000: "Cassandra",
    8086: "InfluxDB",
    9042: "Cassandra",
    9200: "Elasticsearch",
    9300: "Elasticsearch",
    11211: "Memcached",
    27017: "MongoDB",
}
IAP_RANGE = ipaddress.IPv4Network("35.235.240.0/20")  # IAP TCP forwarding: the only SSH source the platform allows
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "6", "17", "132"}
WIDE_RANGE = 10  # more ports than this in one range is a "wide range"


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


def _is_internet(cidr: str) -> bool:
    """0.0.0.0/0 and ::/0, and any public block so large it stands for the internet (shorter than /8, /16 for IPv6)."""
    net = _network(cidr)
    if net is None:
        return False
    floor = 8 if net.version == 4 else 16
    return net.prefixlen < floor and not net.is_private


def _sources(props: Mapping[str, Any]) -> tuple[list[str], bool, bool]:
    """(source ranges, whether tags or service accounts are sources too, whether the ranges are implicit).

    No source at all means 0.0.0.0/0, and so does an empty string (``source_ranges = [""]`` from an
    empty variable, hashicorp/terraform-provider-google#6789).
    """
    ranges = [str(r).strip() for r in props.get("sourceRanges") or [] if str(r).strip()]
    by_identity = bool(props.get("sourceTags") or props.get("sourceServiceAccounts"))
    if not ranges and not by_identity:
        return ["0.0.0.0/0"], False, True
    return ranges, by_identity, False


def _applies(props: Mapping[str, Any]) -> bool:
    """An enabled INGRESS rule (the provider's default direction)."""
    return str(props.get("direction") or "INGRESS").upper() == "INGRESS" and not truthy(props.get("disabled"))


def _allowed(props: Mapping[str, Any]) -> Iterator[tuple[str, list[tuple[int, int]]]]:
    """(protocol, port ranges) of every allow block; [] ranges means a protocol without ports (ICMP...)."""
    for block in props.get("allows") or props.get("allow") or []:
        if not block:
            continue
        protocol = str(block.get("protocol") or "").lower()
        ports = [str(p) for p in block.get("ports") or []]
        if protocol == "all" or (protocol in PORT_PROTOCOLS and not ports):
            yield protocol, [(0, 65535)]
            continue
        ranges = []
        for port in ports:
            low, _, high = port.partition("-")
            try:
                ranges.append((int(low), int(high or low)))
            except ValueError:
                continue
        yield protocol, ranges


def _describe(protocol: str, low: int, high: int) -> str:
    if (low, high) == (0, 65535):
        return "all protocols and ports" if protocol == "all" else f"every {protocol} port"
    named = [f"{what} {p}" for p, what in {**ADMIN_PORTS, **DATA_PORTS}.items() if low <= p <= high]
    span = f"{low}/{protocol}" if low == high else f"{low}-{high}/{protocol}"
    if high - low + 1 > WIDE_RANGE:
        span = f"the wide range {span}"
    return f"{span} ({', '.join(named)})" if named else span


def check_firewall_world(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _applies(props):
        return
    ranges, _, implicit_world = _sources(props)
    world = sorted(r for r in ranges if _is_internet(r))
    if not world:
        return
    implicit = " (no source given, which GCP reads as 0.0.0.0/0)" if implicit_world else ""
    for protocol, spans in _allowed(props):
        opened = [_describe(protocol, low, high) for low, high in spans] or [f"protocol {protocol}"]
        for what in opened:
            yield f"{ctx.name} admits {world}{implicit} on {what}; backends take traffic only from the load balancer's ranges"


def check_firewall_admin(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _applies(props):
        return
    ranges, by_identity, _ = _sources(props)
    outside = []
    for cidr in ranges:
        net = _network(cidr)
        if not (isinstance(net, ipaddress.IPv4Network) and net.subnet_of(IAP_RANGE)):
            outside.append(cidr)
    if by_identity:
        outside.append("tagged or service-account VMs")
    if not outside:
        return
    for protocol, spans in _allowed(props):
        for low, high in spans:
            for port, what in ADMIN_PORTS.items():
                if low <= port <= high:
                    yield (
                        f"{ctx.name} opens {what} ({port}/{protocol}) to {outside}; "
                        f"allow only IAP TCP forwarding ({IAP_RANGE}) when it is enabled"
                    )


def check_firewall_logging(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if truthy(props.get("disabled")):
        return
    if not props.get("logConfig") and not truthy(props.get("enableLogging")):
        yield f"{ctx.name} does not log the connections it matches (no logConfig)"


def check_custom_mode(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not explicitly_false(props.get("autoCreateSubnetworks")):
        yield f"{ctx.name} is an auto-mode network (a subnet in every region); set autoCreateSubnetworks false"


def _ordinary_subnet(props: Mapping[str, Any]) -> bool:
    """A subnet VMs live in; proxy-only, PSC and NAT subnets support neither flow logs nor private Google access."""
    return str(props.get("purpose") or "PRIVATE").upper() in {"PRIVATE", "PRIVATE_RFC_1918"}


def check_subnet_private(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _ordinary_subnet(props):
        return
    if str(props.get("ipv6AccessType") or "").upper() == "EXTERNAL":
        yield f"{ctx.name} gives VMs external IPv6 addresses (ipv6AccessType EXTERNAL)"
    if not truthy(props.get("privateIpGoogleAccess")):
        yield f"{ctx.name} has no private Google access, so VMs need external addresses to reach Google APIs"


def check_subnet_flow_logs(props: Mapping[str, Any], ctx: CheckContext) -> Iterator[str]:
    if not _ordinary_subnet(props):
        return
    log = props.get("logConfig")
    if not log:
        yield f"{ctx.name} records no VPC flow logs (no logConfig)"
    elif number(log.get("flowSampling"), 0.5) <= 0:
        yield f"{ctx.name} samples no flows (logConfig.flowSampling is 0)"


FIREWALL_NO_WORLD_INGRESS = Rule(
    name="gcp-firewall-no-world-ingress",
    family="firewall",
    severity="critical",
    description="No firewall rule admits the internet (0.0.0.0/0, ::/0) on any port: SSH, RDP, data ports, all ports or ranges.",
    remediation="Allow only the load balancer's ranges 35.191.0.0/16 and 130.211.0.0/22 to the service port, by target service account (checkov CKV_GCP_2, 3, 75, 77, 88, 106, CKV2_GCP_12).",
    hipaa=HIPAA["access-control"],
    resource_types=(FIREWALL,),
    check=check_firewall_world,
    nist="NIST 800-53 SC-7",
)
FIREWALL_NO_ADMIN_PORTS = Rule(
    name="gcp-firewall-no-admin-ports",
    family="firewall",
    severity="critical",
    description="SSH (22) and RDP (3389) are open to nothing but IAP TCP forwarding (35.235.240.0/20).",
    remediation="Remove the rule; reach VMs with OS Login through IAP TCP forwarding, allowed from 35.235.240.0/20 only when enabled (checkov CKV_GCP_2, CKV_GCP_3).",
    hipaa=HIPAA["access-control"],
    resource_types=(FIREWALL,),
    check=check_firewall_admin,
    nist="NIST 800-53 AC-17",
)
FIREWALL_LOGGING = Rule(
    name="gcp-firewall-logging",
    family="audit",
    severity="low",
    description="Firewall rules log the connections they match.",
    remediation="Add log_config {metadata = INCLUDE_ALL_METADATA} (or EXCLUDE_ALL_METADATA to save cost) (no checkov equivalent).",
    hipaa=HIPAA["audit"],
    resource_types=(FIREWALL,),
    check=check_firewall_logging,
    nist="NIST 800-53 AU-12",
    default_enforcement="advisory",
)
VPC_CUSTOM_MODE = Rule(
    name="gcp-vpc-custom-mode",
    family="firewall",
    severity="medium",
    description="VPC networks are custom-mode: only the subnets the stack declares exist.",
    remediation="Set auto_create_subnetworks = false and declare each regional subnet (CIS GCP 3.1; checkov CKV_GCP_27 checks the project's default network).",
    hipaa=HIPAA["access-control"],
    resource_types=(NETWORK,),
    check=check_custom_mode,
    nist="NIST 800-53 SC-7",
)
SUBNET_PRIVATE = Rule(
    name="gcp-subnet-private",
    family="firewall",
    severity="high",
    description="Subnets give VMs no external IPv6 addresses and reach Google APIs privately.",
    remediation="Set private_ip_google_access = true and never ipv6_access_type = EXTERNAL (checkov CKV_GCP_74).",
    hipaa=HIPAA["access-control"],
    resource_types=(SUBNETWORK,),
    check=check_subnet_private,
    nist="NIST 800-53 SC-7",
)
SUBNET_FLOW_LOGS = Rule(
    name="gcp-subnet-flow-logs",
    family="audit",
    severity="high",
    description="Every subnet VMs live in records VPC flow logs.",
    remediation="Add log_config {aggregation_interval, flow_sampling > 0, metadata = INCLUDE_ALL_METADATA} (checkov CKV_GCP_26).",
    hipaa=HIPAA["audit"],
    resource_types=(SUBNETWORK,),
    check=check_subnet_flow_logs,
    nist="NIST 800-53 AU-12",
)
