"""Click commands beyond run/list/validate, one module per topic.

Each module defines a list ``COMMANDS`` of click commands; ``alloc.cli.COMMAND_MODULES`` names the
modules to register. Keep heavy imports (matplotlib, dask, ...) inside the command functions so
that ``alloc run`` starts fast.
"""
