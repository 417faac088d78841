"""Stable address plans: each system's subnets come from its own fixed slot, never its position in a list.

The stack's CIDR is cut into a fixed number of equal blocks that depends only
on its prefix (like Terraform's ``cidrsubnet(cidr, newbits, netnum)`` with
explicit ``netnum``s): block 0 is the shared edge, and the system in slot
``s`` owns blocks ``3s-2 .. 3s``. Adding, removing or reordering systems
therefore changes no other system's addresses, so no other network or
container is replaced.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

BLOCKS_PER_SYSTEM = 3
MAX_BLOCKS = 64  # 21 system slots; a /22 or larger gets all of them
SMALLEST_BLOCK_PREFIX = 28  # Docker needs a few addresses per network for its gateway and containers


@dataclass(frozen=True)
class SystemSubnets:
    """Address ranges of one system's three networks."""

    frontend: str
    backend: str
    egress: str


def block_count(cidr: str) -> int:
    """How many equal blocks the plan cuts ``cidr`` into (a function of the prefix alone)."""
    prefix = ipaddress.IPv4Network(cidr).prefixlen
    return min(MAX_BLOCKS, 2 ** max(0, SMALLEST_BLOCK_PREFIX - prefix))


def max_slot(cidr: str) -> int:
    """The highest system slot ``cidr`` has room for."""
    return (block_count(cidr) - 1) // BLOCKS_PER_SYSTEM


def _blocks(cidr: str) -> list[ipaddress.IPv4Network]:
    net = ipaddress.IPv4Network(cidr)
    new_prefix = net.prefixlen + (block_count(cidr) - 1).bit_length()
    return list(net.subnets(new_prefix=new_prefix))


def edge_subnet(cidr: str) -> str:
    """Block 0: the shared edge network (the proxy's)."""
    return str(_blocks(cidr)[0])


def system_subnets(cidr: str, slot: int) -> SystemSubnets:
    """The three subnets of the system in ``slot`` (1-based); ``ValueError`` when ``cidr`` has no room."""
    if not 1 <= slot <= max_slot(cidr):
        raise ValueError(f"{cidr} has room for address slots 1-{max_slot(cidr)}, not {slot}; use a larger range")
    first = 1 + BLOCKS_PER_SYSTEM * (slot - 1)
    blocks = _blocks(cidr)
    return SystemSubnets(*(str(b) for b in blocks[first : first + BLOCKS_PER_SYSTEM]))
