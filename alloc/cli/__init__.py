"""Command-line interface: parse arguments, call the layers below, print, map errors to exit 2.

The only layer that prints. :mod:`~alloc.cli.main` holds the ``alloc`` group and ``run``,
``list``, ``validate``; topic modules add their commands (:mod:`~alloc.cli.ensemble`,
:mod:`~alloc.cli.outputs`, :mod:`~alloc.cli.formulas`); :mod:`~alloc.cli.errors` reports errors.
Heavy imports (matplotlib, dask, openpyxl) stay inside the command functions so start-up is fast.
"""

from alloc.cli.main import main

__all__ = ["main"]
