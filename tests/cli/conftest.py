from tests.support.project import project

__all__ = ["project"]
