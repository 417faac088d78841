"""``Network``: a custom-mode VPC with one private subnet, Cloud NAT, private services access and deny-by-default firewalls."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_gcp as gcp

# Where Google's load balancer proxies and health checkers connect from (global external ALB).
LOAD_BALANCER_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
# Where Identity-Aware Proxy TCP forwarding connects from.
IAP_RANGE = "35.235.240.0/20"
# Cloud SQL PostgreSQL, and Memorystore Redis with (6378) and without (6379) transit encryption.
DATA_PORTS = (5432, 6378, 6379)
# Firewall rule priorities: allows win over the catch-all denies just above the implied rules (65535).
ALLOW_PRIORITY = 1000
DENY_ALL_PRIORITY = 65534
LOG_ALL = gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA")


def subnet_plan(cidr: str) -> tuple[str, str]:
    """(VM subnet, private services range) carved from the stack's CIDR.

    The VMs get the first half; the last /20 is reserved for private
    services access (Cloud SQL and Memorystore in Google's VPC, peered in);
    what lies between stays free for later subnets (proxy-only, GKE
    ranges). Keeping every range inside the one stack CIDR means a hospital
    allocates a single non-overlapping block per stack, which matters once
    the VPC is connected to its network by VPN or Interconnect.
    """
    net = ipaddress.IPv4Network(cidr)
    if net.prefixlen > 19:
        raise ValueError(f"stack CIDR {cidr} is too small: a /19 or larger leaves room for VMs and a /20 of services")
    vms = next(net.subnets(prefixlen_diff=1))
    services = list(net.subnets(new_prefix=20))[-1]
    return str(vms), str(services)


class Network(pulumi.ComponentResource):
    """The VPC every system of a ``gcp`` stack shares.

    Secure defaults: custom mode (no auto-created subnets in every region,
    no default network); one regional subnet with Private Google Access
    (Google APIs without public IPs) and flow logs of every flow's full
    metadata (5 s aggregation, half the flows sampled); Cloud Router + Cloud
    NAT for outbound traffic only, logging every translation; private
    services access (Cloud SQL, Memorystore) over a reserved range peered
    into the VPC, so data stores never have public IPs. Firewalls deny by
    default in both directions and log: ingress only from Google's load
    balancer and health-check ranges to the ports ``allow_load_balancer``
    opens, SSH only from IAP's range and only when ``iap_ssh``; egress only
    HTTPS (image pulls, Google APIs, through NAT) and the data ports of the
    private services range.

    ``nat_per_zone`` is accepted for parity with AWS and changes nothing:
    Cloud NAT is a regional, distributed service without a gateway in any
    zone, so losing a zone never takes egress with it.
    """

    network_id: pulumi.Output[str]
    network_self_link: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    subnet_self_link: pulumi.Output[str]
    subnet_cidr: str
    private_services: pulumi.Resource
    private_services_cidr: str

    def __init__(
        self,
        name: str,
        *,
        project: pulumi.Input[str],
        region: str,
        cidr: str,
        labels: Mapping[str, str],
        nat_per_zone: bool = False,
        iap_ssh: bool = False,
        secondary_ranges: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.project = project
        subnet_cidr, services_cidr = subnet_plan(cidr)
        network = gcp.compute.Network(
            f"{name}-vpc",
            project=project,
            auto_create_subnetworks=False,
            delete_default_routes_on_create=False,  # the default internet route is how NAT reaches out
            routing_mode="REGIONAL",
            description="Clinical platform VPC (custom mode)",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-vms",
            project=project,
            region=region,
            network=network.id,
            ip_cidr_range=subnet_cidr,
            private_ip_google_access=True,
            stack_type="IPV4_ONLY",
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC",
                flow_sampling=0.5,
                metadata="INCLUDE_ALL_METADATA",
            ),
            description="VMs of every system; no external IPs",
            # A GKE cluster's pods and services (alias IP ranges): only when a cluster asks for them.
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=range_name, ip_cidr_range=range_cidr)
                for range_name, range_cidr in secondary_ranges.items()
            ]
            if secondary_ranges
            else None,
            opts=child,
        )
        router = gcp.compute.Router(f"{name}-router", project=project, region=region, network=network.id, opts=child)
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=project,
            region=region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",  # only the VM subnet, not future ones
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
            ],
            # Dynamic ports: image pulls open many connections at boot without reserving them forever.
            enable_dynamic_port_allocation=True,
            enable_endpoint_independent_mapping=False,
            min_ports_per_vm=128,
            max_ports_per_vm=4096,
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ALL"),
            opts=child,
        )
        services_ip, services_prefix = services_cidr.split("/")
        services_range = gcp.compute.GlobalAddress(
            f"{name}-private-services",
            project=project,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=services_ip,
            prefix_length=int(services_prefix),
            network=network.id,
            labels=dict(labels),
            description="Private services access: Cloud SQL and Memorystore",
            opts=child,
        )
        connection = gcp.servicenetworking.Connection(
            f"{name}-private-services",
            network=network.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[services_range.name],
            opts=child,
        )
        self._firewalls(name, network, services_cidr, iap_ssh)
        self.network_id, self.network_self_link = network.id, network.self_link
        self.subnet_id, self.subnet_self_link, self.subnet_cidr = subnet.id, subnet.self_link, subnet_cidr
        self.private_services, self.private_services_cidr = connection, services_cidr
        self._network = network
        self.register_outputs({"networkId": network.id, "subnetId": subnet.id})

    def _firewalls(self, name: str, network: gcp.compute.Network, services_cidr: str, iap_ssh: bool) -> None:
        def rule(suffix: str, description: str, **kwargs: Any) -> None:
            gcp.compute.Firewall(
                f"{name}-{suffix}",
                project=self.project,
                network=network.id,
                log_config=LOG_ALL,
                description=description,
                opts=pulumi.ResourceOptions(parent=self),
                **kwargs,
            )

        deny_all = [gcp.compute.FirewallDenyArgs(protocol="all")]
        rule(
            "deny-all-ingress",
            "Deny all ingress not allowed above (logged, unlike the implied rule)",
            direction="INGRESS",
            priority=DENY_ALL_PRIORITY,
            denies=deny_all,
            source_ranges=["0.0.0.0/0"],
        )
        rule(
            "deny-all-egress",
            "Deny all egress not allowed above",
            direction="EGRESS",
            priority=DENY_ALL_PRIORITY,
            denies=deny_all,
            destination_ranges=["0.0.0.0/0"],
        )
        rule(
            "allow-https-egress",
            "HTTPS out through Cloud NAT: image pulls and Google APIs",
            direction="EGRESS",
            priority=ALLOW_PRIORITY,
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["443"])],
            destination_ranges=["0.0.0.0/0"],
        )
        rule(
            "allow-data-egress",
            "PostgreSQL and Redis in the private services range",
            direction="EGRESS",
            priority=ALLOW_PRIORITY,
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(p) for p in DATA_PORTS])],
            destination_ranges=[services_cidr],
        )
        if iap_ssh:
            rule(
                "allow-iap-ssh",
                "SSH only through Identity-Aware Proxy TCP forwarding (OS Login decides who)",
                direction="INGRESS",
                priority=ALLOW_PRIORITY,
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["22"])],
                source_ranges=[IAP_RANGE],
            )

    def allow_load_balancer(
        self, name: str, ports: Sequence[int], target_tags: Sequence[str], parent: pulumi.Resource
    ) -> gcp.compute.Firewall:
        """Let Google's load balancer proxies and health checkers reach ``ports`` on VMs tagged ``target_tags``."""
        if not ports or not target_tags:
            raise ValueError(f"{name}: a load balancer rule needs ports and target tags (never every VM)")
        return gcp.compute.Firewall(
            name,
            project=self.project,
            network=self._network.id,
            direction="INGRESS",
            priority=ALLOW_PRIORITY,
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(p) for p in sorted(set(ports))])],
            source_ranges=list(LOAD_BALANCER_RANGES),
            target_tags=list(target_tags),
            log_config=LOG_ALL,
            description="Load balancer proxies and health checks to the service ports",
            opts=pulumi.ResourceOptions(parent=parent),
        )
