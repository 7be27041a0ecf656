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
