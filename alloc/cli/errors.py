"""The one place that knows how the CLI reports errors.

Bad input (:class:`alloc.errors.AllocError`) and unreadable files become one line
``error: <file>: <field>: <problem>`` on stderr and exit status 2, without a traceback. Every
command is decorated with :func:`reports_errors`.
"""

from __future__ import annotations

import functools
import sys

import click

from alloc.errors import AllocError

EXIT_BAD_INPUT = 2


def report(exc: AllocError) -> None:
    """Print ``error: <file>: <field>: <problem>`` as one line on stderr and exit 2."""
    click.echo("error: " + " ".join(str(exc).splitlines()), err=True)
    sys.exit(EXIT_BAD_INPUT)


def reports_errors(func):
    """Decorator for CLI commands: AllocError and OSError become one line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AllocError as exc:
            report(exc)
        except BrokenPipeError:
            raise  # the reader closed our output (`alloc ... | head`): click exits quietly, 1
        except OSError as exc:
            report(AllocError(exc.filename or "(unknown file)", "file", str(exc.strerror or exc)))

    return wrapper
