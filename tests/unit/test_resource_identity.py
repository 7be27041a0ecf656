"""No resource changes identity by accident: a move comes with its alias, or a note why the
replacement is intended (tests/unit/resource_identity.py says how)."""

from __future__ import annotations

from tests.unit.resource_identity import declared_identities, load_snapshot

REWRITE = "run .venv/bin/python -m tests.unit.resource_identity --write"


def test_every_resource_keeps_the_identity_in_the_snapshot() -> None:
    current, pinned = declared_identities(), load_snapshot()["resources"]
    new = sorted(set(current) - set(pinned))
    gone = sorted(set(pinned) - set(current))
    assert (new, gone) == ([], []), (
        f"resource identities changed: new {new}, gone {gone}. A moved or renamed resource is "
        f"replaced by the engine unless it declares aliases=[...] for its old identity; add "
        f"them, then {REWRITE} and say in 'retired' how each old identity is handled."
    )
    aliases = {key: list(identity.aliases) for key, identity in current.items()}
    assert aliases == pinned, f"declared aliases differ from the snapshot: {REWRITE}"


def test_every_retired_identity_is_aliased_or_replaced_on_purpose() -> None:
    current = declared_identities()
    for old, note in load_snapshot()["retired"].items():
        if note.startswith("replaced on purpose: ") and len(note) > len("replaced on purpose: "):
            continue
        assert note.startswith("aliased by "), f"{old}: {note}"
        successor = note.removeprefix("aliased by ")
        assert successor in current, f"{old} is aliased by {successor}, which is not declared"
        # An alias on the successor or on one of its ancestors (children inherit them).
        chain, at = [], current.get(successor)
        while at is not None:
            chain.append(at)
            at = current.get(at.parent) if at.parent else None
        assert any(identity.aliases for identity in chain), (
            f"{successor} takes over {old}, but neither it nor a parent declares an alias"
        )
