"""Which containers of a VM's compose project reach the internet: the Docker host's promise, kept on clouds.

On a Docker host only services with ``egress: true`` sit on a routable network (``docker_host/network.py``);
everything else is on internal networks. On a VM the services also reach managed data stores in the VPC, so
an ``internal: true`` network (no traffic off the host at all) would cut them off. Instead:

- every service joins ``private``, a bridge with a fixed subnet whose traffic the host's ``DOCKER-USER``
  chain lets leave only towards private (RFC 1918) addresses, DNS and replies to connections made to it (the
  load balancer's probes and requests to the gateway); the VM's security group or firewall then narrows
  private destinations to the system's own data stores;
- services with ``egress: true``, and services that use the system's buckets (S3 and GCS answer at public
  addresses, through the S3 gateway endpoint or Private Google Access), also join ``egress``, a plain bridge.

The guard runs before compose starts (``ExecStartPre``) and is idempotent: a restart rebuilds the chain.
"""

from __future__ import annotations

# Shared address space (RFC 6598): never a stack's VPC (StackConfig only accepts RFC 1918 ranges), so a
# container address cannot be mistaken for a data store's.
PRIVATE_SUBNET = "100.64.0.0/24"
# A container on both takes its default route from the network Docker ranks first; with equal gateway priorities
# Docker ranks them by name, so "<project>_egress" must sort before "<project>_private" (tests/test_edge.py pins it):
# else an egress service's internet traffic would leave through the guarded network and be refused.
PRIVATE, EGRESS = "private", "egress"
PRIVATE_DESTINATIONS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", PRIVATE_SUBNET)
CHAIN = "CLINICAL-PRIVATE"
GUARD_PATH = "/opt/clinical/egress-guard.sh"


def networks(egress: bool) -> list[str]:
    """The compose networks of a service: ``private`` always, ``egress`` too when it must reach the internet."""
    return [PRIVATE, EGRESS] if egress else [PRIVATE]


def compose_networks(any_egress: bool) -> dict[str, dict]:
    """The project's ``networks``: ``private`` on its fixed subnet, and ``egress`` when a service needs it."""
    found: dict[str, dict] = {
        PRIVATE: {"driver": "bridge", "ipam": {"config": [{"subnet": PRIVATE_SUBNET}]}},
    }
    if any_egress:
        found[EGRESS] = {"driver": "bridge"}
    return found


def guard_script() -> str:
    """The host's iptables rules keeping the ``private`` network's traffic off the internet."""
    allowed = "".join(f"iptables -A {CHAIN} -d {net} -j RETURN\n" for net in PRIVATE_DESTINATIONS)
    return f"""#!/bin/bash
# Containers on the compose project's private network ({PRIVATE_SUBNET}) reach private addresses only (the VPC's
# data stores; the security group or firewall narrows them further), DNS, and answer connections made to them.
# Only services with egress (and bucket users) are also on the routable egress network.
set -euo pipefail
iptables -N {CHAIN} 2>/dev/null || iptables -F {CHAIN}
iptables -A {CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
{allowed}iptables -A {CHAIN} -p udp --dport 53 -j RETURN
iptables -A {CHAIN} -p tcp --dport 53 -j RETURN
iptables -A {CHAIN} -j REJECT --reject-with icmp-net-prohibited
iptables -C DOCKER-USER -s {PRIVATE_SUBNET} -j {CHAIN} 2>/dev/null || iptables -I DOCKER-USER -s {PRIVATE_SUBNET} -j {CHAIN}
"""
