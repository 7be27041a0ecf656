"""The identity of every resource the dev stack declares (its type qualified by its ancestors'
types, and its name), as the engine keys its state. Renaming a resource or moving it under
another parent changes it, and the engine then replaces the resource: a data volume, a
database, the realm. tests/unit/resource_identity.json pins it.

    .venv/bin/python -m tests.unit.resource_identity --write

rewrites the snapshot; identities that vanished move to "retired" with a TODO, which the unit
test refuses until it says "aliased by <new identity>" (and that resource, or an ancestor,
declares the alias) or "replaced on purpose: <why>".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from stackrules.names import config_key
from tests.support.harness import ROOT, Identity, RecordingMocks, run_with

SNAPSHOT = Path(__file__).with_name("resource_identity.json")
DEV_STACK = ROOT / "Pulumi.dev.yaml"
# Besides the dev stack's own config: the optional automation client, so its resources are
# pinned too.
EXTRA_CONFIG = {"automationClientId": "mlflow-automation"}


def declared_identities() -> dict[str, Identity]:
    """Every resource of the dev stack as the program declares it, by identity."""
    stack = yaml.safe_load(DEV_STACK.read_text())
    config = {key.removeprefix(config_key("")): value for key, value in stack["config"].items()}
    identities: dict[str, Identity] = {}
    run_with(RecordingMocks(), {**config, **EXTRA_CONFIG}, identities=identities)
    return dict(sorted(identities.items()))


def load_snapshot() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    return loaded


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(__doc__, file=sys.stderr)
        return 2
    current = declared_identities()
    old = load_snapshot() if SNAPSHOT.exists() else {"resources": {}, "retired": {}}
    retired = dict(old.get("retired", {}))
    for identity in old["resources"]:
        if identity not in current:
            retired.setdefault(
                identity, "TODO: aliased by <new identity>, or replaced on purpose: <why>"
            )
    resources = {key: list(identity.aliases) for key, identity in current.items()}
    snapshot = {"resources": resources, "retired": dict(sorted(retired.items()))}
    SNAPSHOT.write_text(json.dumps(snapshot, indent=2) + "\n")
    print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {len(current)} resources, {len(retired)} retired")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
