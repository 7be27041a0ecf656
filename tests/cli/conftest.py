from tests.cli.project import project

__all__ = ["project"]
