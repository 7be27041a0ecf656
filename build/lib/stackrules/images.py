"""When an image reference is pinned: a tag other than `latest`, a digest, or an image ID."""

from __future__ import annotations

import re

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE_ID = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


def image_tag(reference: str) -> str | None:
    """The tag of `reference` ("postgres:17" -> "17"), None when it has none.

    A colon before the last slash belongs to a registry's port ("localhost:5000/app").
    """
    name = reference.split("@", 1)[0]
    last_segment = name.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        return None
    return last_segment.rsplit(":", 1)[1]


def pinning_problem(reference: str) -> str | None:
    """Why `reference` is not pinned ("has no tag, ..."), or None if it is."""
    if _IMAGE_ID.match(reference) or _DIGEST.search(reference):
        return None
    tag = image_tag(reference)
    if tag is None:
        return "has no tag, which means 'latest'"
    if tag == "":
        return "has an empty tag"
    if tag == "latest":
        return "uses the moving tag 'latest'"
    return None


def tag_major(reference: str) -> int | None:
    """The major version `reference`'s tag begins with ("postgres:17.7-trixie" -> 17)."""
    found = re.match(r"\d+", image_tag(reference) or "")
    return int(found.group()) if found else None
