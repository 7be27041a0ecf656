"""The value types config keys share: each checks its value once, with the message a bad value
gets (the key and the fix are added where the error is reported)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from stackrules.durations import format_duration, parse_duration
from stackrules.images import pinning_problem, tag_major


def matching(pattern: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _empty_is_unset(value: object) -> object:
    return None if value == "" else value


Port = Annotated[int, Field(ge=1, le=65535)]
Name = Annotated[
    str,
    matching(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        "must be letters, digits, '.', '_' or '-' (at most 63)",
    ),
]
"""A Keycloak name: realm, client, group, team, IdP alias, federation."""
Username = Annotated[
    str,
    matching(
        r"^[a-z0-9][a-z0-9._-]{0,254}$",
        "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit "
        "(Keycloak lower-cases usernames)",
    ),
]
Email = Annotated[
    str, matching(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$", "is not an email address like 'ada@example.com'")
]
Hostname = Annotated[
    str,
    matching(
        r"^[A-Za-z0-9.-]+$", "must be a bare host name such as 'localhost' (no scheme or port)"
    ),
]
DnsLabel = Annotated[
    str,
    matching(
        r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        "must be a DNS label: lower-case letters, digits and '-' (at most 63)",
    ),
]
Quantity = Annotated[
    str,
    matching(
        r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$",
        "must be a Kubernetes quantity like 10Gi",
    ),
]


def _ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("is not an IP address; use 127.0.0.1 (the default)") from None
    return value


IpAddress = Annotated[str, AfterValidator(_ip_address)]


def _pinned(value: str) -> str:
    """An image must be pinned: a tag other than `latest`, or a digest."""
    problem = pinning_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}; pin a version tag such as 'postgres:17.7-trixie'")
    return value


def _postgres_major(value: str) -> str:
    if tag_major(value) is None:
        raise ValueError(
            "its tag must begin with Postgres's major version, as the official tags do "
            "(postgres:17.7-trixie, or postgres:17.7-trixie@sha256:...): up refuses a "
            "major-version change by it"
        )
    return value


Image = Annotated[str, AfterValidator(_pinned)]
PostgresImage = Annotated[Image, AfterValidator(_postgres_major)]


def _postgres_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path[1:]:
        # The value is a secret: say what is wrong with it, never repeat it.
        raise ValueError(
            "must be a URL like postgresql://USER:PASSWORD@HOST:5432/DATABASE (the value is "
            "not shown: it is a secret)"
        )
    if not parts.username or parts.password is None:
        raise ValueError("must carry the user and password (postgresql://USER:PASSWORD@HOST/DB)")
    return value


PostgresUrl = Annotated[str, AfterValidator(_postgres_url)]


def within(low: int, high: int) -> AfterValidator:
    """A duration ("90s", "5m", "7d") between low and high seconds."""

    def check(value: str) -> str:
        if not low <= parse_duration(value) <= high:
            raise ValueError(f"must lie between {format_duration(low)} and {format_duration(high)}")
        return value

    return AfterValidator(check)


def unset_if_empty() -> BeforeValidator:
    """An optional key set to "" (how `pulumi config set KEY ""` and Pulumi.yaml's empty
    default arrive) is unset."""
    return BeforeValidator(_empty_is_unset)
