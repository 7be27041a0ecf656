"""The one kind of failure stackctl reports without a traceback."""

from __future__ import annotations


class StackctlError(Exception):
    """Something the operator can fix; the message is one line that says how."""
