"""Fails the image build unless the lock installed exactly the versions versions.env pins.

Usage: check_pins.py NAME=VERSION ...  (run with the image's venv python, after the install).
"""

import sys
from importlib.metadata import PackageNotFoundError, version

import mlflow  # noqa: F401  (the server's packages import)
import mlflow_oidc_auth  # noqa: F401
import psycopg  # noqa: F401


def installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


wanted = dict(arg.split("=", 1) for arg in sys.argv[1:])
wrong = {name: installed(name) for name, pin in wanted.items() if installed(name) != pin}
if wrong:
    sys.exit(
        f"ERROR: requirements.lock installs {wrong} but versions.env pins {wanted}: "
        "run images/mlflow/lock.sh and commit the lock"
    )
print(f"pins as in versions.env: {wanted}")
