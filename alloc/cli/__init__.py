"""Command-line interface: parse arguments, call the layers below, print, map errors to exit 2.

The only layer that prints. :mod:`~alloc.cli.main` holds the ``alloc`` group and ``run``,
``list``, ``validate``; topic modules add their commands (:mod:`~alloc.cli.ensemble`,
:mod:`~alloc.cli.outputs`, :mod:`~alloc.cli.formulas`); :mod:`~alloc.cli.errors` reports errors.
Heavy imports (matplotlib, dask, openpyxl) stay inside the command functions so start-up is fast.
"""

import sys
from pathlib import Path


def _started_as_cli() -> bool:
    """Whether this process is the ``alloc`` command or ``python -m alloc``."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.stem.removesuffix("-script") == "alloc" or program.parts[-2:] == (
        "alloc",
        "__main__.py",
    )


try:
    from alloc.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while the command starts: one line, exit 130 (errors.py)
    if not _started_as_cli():
        raise
    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None

__all__ = ["main"]
