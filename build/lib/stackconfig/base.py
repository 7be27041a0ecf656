"""What every config model is, and how a bad value is reported."""

from __future__ import annotations

import pulumi
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# pulumi-language-python-exec's code for "exited after showing the user an actionable message".
MESSAGE_SHOWN_EXIT_CODE = 32


class ConfigError(pulumi.RunError):
    """One or more stack config values are wrong; the message says which and how to fix them.

    A RunError, so `pulumi preview` prints the message without a Python traceback.
    """


class ConfigModel(BaseModel):
    """camelCase keys as in the stack file, unknown keys refused, values frozen, each field's
    docstring its description (the config docs are generated from them)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


def config_key(field: str) -> str:
    """The stack file's name of a model field."""
    return to_camel(field)
