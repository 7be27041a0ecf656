"""Rule on image references: every image the stack pulls, builds or runs is pinned."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackrules.images import pinning_problem

from .props import is_unknown
from .resource_types import BUILT_IMAGE, CONTAINER, REMOTE_IMAGE
from .rule import Resource, config_key, rule

_REFERENCE_PROPERTY = {REMOTE_IMAGE: "name", BUILT_IMAGE: "imageName", CONTAINER: "image"}
_IMAGE_CONFIG = ", ".join(
    config_key(key) for key in ("postgresImage", "keycloakImage", "mlflowBaseImage", "mlflowImage")
)


@rule("images-pinned", *_REFERENCE_PROPERTY)
def images_pinned(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every image reference (RemoteImage.name, Image.imageName, Container.image) has a tag other
    than
    'latest', an @sha256 digest, or is an image ID.
    """
    prop = _REFERENCE_PROPERTY[resource.type]
    reference = resource.props.get(prop)
    if is_unknown(reference):
        return  # A container often runs the ID of an image pulled in the same update.
    if not reference:
        problem = f"`{prop}` is empty"
    else:
        reason = pinning_problem(str(reference))
        if reason is None:
            return
        problem = f"image '{reference}' {reason}"
    if resource.type == BUILT_IMAGE:
        fix = "tag the built image with a version or build fingerprint, as images/ builds do"
    else:
        fix = (
            f"pin a version tag or an @sha256 digest in the stack config ({_IMAGE_CONFIG}) "
            "or in versions.env"
        )
    yield f"{problem}, so two runs may use different images. Fix: {fix}."
