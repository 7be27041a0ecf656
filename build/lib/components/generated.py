"""Secrets the stack generates itself, so no person ever types one."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def generated_secret(
    name: str, parent: pulumi.Resource | None, length: int = 32
) -> pulumi.Output[str]:
    """A random alphanumeric string (safe inside URIs and env lines), stable across `up`s and
    a Pulumi secret from birth."""
    password = random.RandomPassword(
        name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.Output.secret(password.result)
