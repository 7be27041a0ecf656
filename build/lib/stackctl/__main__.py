"""`python -m stackctl`."""

from stackctl.cli import app

app(prog_name="stackctl")
