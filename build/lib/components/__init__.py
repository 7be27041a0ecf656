"""Pulumi components of the MLflow + Keycloak SSO stack, by what they run on: `identity` (the
realm side, through Keycloak's admin API, the same on every target), `docker` (containers on
this host) and `kubernetes` (objects in a cluster); beside them what every target shares (the
component base, generated secrets, MLflow's and Keycloak's settings). `identity` imports
neither target, and neither target the other (tests/unit/test_layers.py)."""

import importlib
import sys

# A dynamic resource's state holds its provider pickled by dill, which names the provider's
# class by its module: a stack deployed before the components moved into these folders names
# them by their old modules, and its refresh, delete or import unpickles them from there. Those
# names stay importable as the modules themselves (tests/unit/test_released_state.py).
RELEASED_MODULES = {
    "components.certificates": "components.docker.certificates",
    "components.identity_brokering": "components.identity.identity_brokering",
    "components.mlflow_accounts": "components.identity.mlflow_accounts",
    "components.mlflow_permissions": "components.identity.mlflow_permissions",
    "components.postgres_major": "components.docker.postgres_major",
}
for _released, _module in RELEASED_MODULES.items():
    sys.modules.setdefault(_released, importlib.import_module(_module))
