"""The one exception users see: bad input, named by file, field and expectation."""

from __future__ import annotations


class AllocError(ValueError):
    """Bad input or an impossible request.

    The message is one line: ``<file>: <field>: <what was expected, what was found>``. The CLI prints
    it and exits with status 2, without a traceback.
    """

    def __init__(self, source: str, field: str, problem: str):
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: {field}: {problem}")


def require_optional(module: str, extra: str, field: str):
    """Import an optional dependency, or raise AllocError naming the extra that installs it.

    ``field`` is the option that asked for it (e.g. ``--workers``).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise AllocError(
            field, module, f"needs the optional dependency '{module}': pip install 'alloc[{extra}]'"
        ) from None
