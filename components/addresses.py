"""How much of the internet a set of CIDR blocks lets in, judged by the addresses they cover.

A list such as `0.0.0.0/1, 128.0.0.0/1` never spells `0.0.0.0/0` and still opens a listener to
everyone, so exposure is judged on the union of the blocks, not on their text. Addresses that the
internet cannot route to you (private, shared, documentation, multicast and other special-purpose
ranges of the IANA registries) do not count: `10.0.0.0/8` exposes nothing public.

Pure functions over the standard library only: the components, the stack config and the policy
pack share them.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPv4 = ipaddress.IPv4Network
IPv6 = ipaddress.IPv6Network

WIDEST_PUBLIC_IPV4_PREFIX = 8
"""Default limit: a rule may let in at most a /8's worth of public IPv4 addresses (16,777,216)."""
WIDEST_PUBLIC_IPV6_PREFIX = 32
"""Default limit: at most a /32's worth of public IPv6 addresses (a large organisation's allocation)."""

# IANA IPv4 special-purpose registry (RFC 6890 and successors): not reachable from the internet.
_NOT_PUBLIC_V4 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
# IPv6: only global unicast (2000::/3) is routed on the internet; its documentation prefix is not.
_PUBLIC_V6 = ipaddress.ip_network("2000::/3")
_NOT_PUBLIC_V6 = (ipaddress.ip_network("2001:db8::/32"),)
_WORLD = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


@dataclass(frozen=True)
class Exposure:
    """What a set of CIDR blocks lets in, per IP version."""

    public_ipv4: int
    """Public IPv4 addresses covered by the union of the blocks."""
    public_ipv6: int
    """Public IPv6 addresses covered by the union of the blocks."""
    whole_ipv4: bool
    """The union is all of 0.0.0.0/0."""
    whole_ipv6: bool
    """The union is all of ::/0."""

    def too_wide(
        self, widest_ipv4_prefix: int = WIDEST_PUBLIC_IPV4_PREFIX, widest_ipv6_prefix: int = WIDEST_PUBLIC_IPV6_PREFIX
    ) -> str | None:
        """Why the blocks open too much of the internet, or None when they do not."""
        if self.whole_ipv4:
            return "together they cover all of 0.0.0.0/0, the whole IPv4 internet"
        if self.whole_ipv6:
            return "together they cover all of ::/0, the whole IPv6 internet"
        if self.public_ipv4 > 2 ** (32 - widest_ipv4_prefix):
            return (
                f"together they cover {self.public_ipv4:,} public IPv4 addresses, more than a "
                f"/{widest_ipv4_prefix}'s worth"
            )
        if self.public_ipv6 > 2 ** (128 - widest_ipv6_prefix):
            return f"together they cover more public IPv6 addresses than a /{widest_ipv6_prefix}"
        return None


def parse_cidrs(cidrs: Iterable[object]) -> list[IPv4 | IPv6]:
    """The blocks as networks; raises ValueError naming the first one that is not a CIDR block."""
    networks: list[IPv4 | IPv6] = []
    for cidr in cidrs:
        if not isinstance(cidr, str):
            raise ValueError(f"{cidr!r} is not a CIDR block")
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as err:
            raise ValueError(f"{cidr!r} is not a CIDR block") from err
    return networks


def _count(networks: Iterable[IPv4 | IPv6]) -> int:
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(networks))


def _public_part(network: IPv4 | IPv6) -> list[IPv4 | IPv6]:
    """The part of `network` the internet routes to, as disjoint networks."""
    if network.version == 6:
        if network.subnet_of(_PUBLIC_V6):  # type: ignore[arg-type]
            parts: list[IPv4 | IPv6] = [network]
        elif _PUBLIC_V6.subnet_of(network):  # type: ignore[arg-type]
            parts = [_PUBLIC_V6]
        else:
            return []
        excluded = _NOT_PUBLIC_V6
    else:
        parts, excluded = [network], _NOT_PUBLIC_V4
    for hole in excluded:
        remaining: list[IPv4 | IPv6] = []
        for part in parts:
            if part.subnet_of(hole):  # type: ignore[arg-type]
                continue
            if hole.subnet_of(part):  # type: ignore[arg-type]
                remaining.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                remaining.append(part)
        parts = remaining
    return parts


def exposure(cidrs: Iterable[object]) -> Exposure:
    """What the union of `cidrs` lets in. Raises ValueError on a value that is not a CIDR block."""
    networks = parse_cidrs(cidrs)
    by_version: dict[int, list[IPv4 | IPv6]] = {4: [], 6: []}
    for network in networks:
        by_version[network.version].append(network)
    public = {v: _count(p for n in collapse(by_version[v]) for p in _public_part(n)) for v in (4, 6)}
    whole = {v: _count(by_version[v]) == _WORLD[v].num_addresses for v in (4, 6)}
    return Exposure(public_ipv4=public[4], public_ipv6=public[6], whole_ipv4=whole[4], whole_ipv6=whole[6])


def collapse(networks: Iterable[IPv4 | IPv6]) -> list[IPv4 | IPv6]:
    """The union of same-version networks as the fewest disjoint blocks."""
    return list(ipaddress.collapse_addresses(networks))  # type: ignore[arg-type]
