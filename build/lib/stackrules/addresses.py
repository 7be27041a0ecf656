"""Host addresses, as the stack's config and the policy pack both judge them."""

from __future__ import annotations

import ipaddress


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) or the name localhost; False for anything else."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def all_but_gateway(subnet: str, gateway: str) -> list[str]:
    """The CIDR blocks that cover `subnet` except the one `gateway` address.

    On a Docker bridge network the gateway is the host itself: every process on the host
    reaches the containers from there. A service behind the edge proxy trusts forwarded headers
    from its edge network's other members (the proxy) but not from the gateway, or anyone on the
    host could forge the client address Keycloak's brute-force detection and audit trail see.
    """
    network = ipaddress.ip_network(subnet, strict=False)
    address = ipaddress.ip_address(gateway)
    if address not in network:
        return [str(network)]
    host = ipaddress.ip_network(address)
    if isinstance(network, ipaddress.IPv4Network) and isinstance(host, ipaddress.IPv4Network):
        return [str(block) for block in sorted(network.address_exclude(host))]
    assert isinstance(network, ipaddress.IPv6Network) and isinstance(host, ipaddress.IPv6Network)
    return [str(block) for block in sorted(network.address_exclude(host))]
