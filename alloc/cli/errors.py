"""The one place that knows how the CLI reports errors.

Bad input (:class:`alloc.errors.AllocError`) and unreadable files become one line
``error: <file>: <field>: <problem>`` on stderr and exit status 2, without a traceback. Every
command is decorated with :func:`reports_errors`.

Ctrl-C, and SIGTERM or SIGHUP (raised as :class:`Terminated`, a KeyboardInterrupt, so the same
clean-up runs: a half-written results folder is removed), become one line ``interrupted`` and
exit status 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM): the ``alloc`` group is
an :class:`AllocGroup`, and ``alloc.cli`` catches Ctrl-C while the commands are imported.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from typing import NoReturn

import click

from alloc.errors import AllocError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report Ctrl-C
#: Signals handled like Ctrl-C, when they would otherwise end the process at once (not ignored,
#: as under nohup, and not handled by someone else).
TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(KeyboardInterrupt):
    """A termination signal, raised like Ctrl-C so that clean-up code runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def terminations_interrupt():
    """Within the block, :data:`TERMINATING` signals raise :class:`Terminated` (main thread)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in TERMINATING:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted(exc: KeyboardInterrupt) -> NoReturn:
    """Print ``interrupted`` as one line on stderr and exit 130 (128 + the signal's number)."""
    with contextlib.suppress(Exception):  # stderr may be gone (a closed terminal)
        click.echo("interrupted", err=True)
    sys.exit(128 + exc.signum if isinstance(exc, Terminated) else EXIT_INTERRUPTED)


def note(text: str) -> None:
    """Print ``note: <text>`` on stderr (something alloc did that the user should know of)."""
    click.echo(f"note: {text}", err=True)


class AllocGroup(click.Group):
    """The ``alloc`` group: an interruption anywhere in a command is reported by
    :func:`interrupted` (not click's ``Aborted!`` and exit status 1)."""

    def main(self, *args, **kwargs):
        with terminations_interrupt():
            try:
                return super().main(*args, **kwargs)
            except KeyboardInterrupt as exc:
                interrupted(exc)

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as exc:
            interrupted(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            interrupted(exc)


def report(exc: AllocError) -> None:
    """Print ``error: <file>: <field>: <problem>`` as one line on stderr and exit 2."""
    click.echo("error: " + " ".join(str(exc).splitlines()), err=True)
    sys.exit(EXIT_BAD_INPUT)


def reports_errors(func):
    """Decorator for CLI commands: AllocError and OSError become one line and exit status 2;
    an interruption becomes one line ``interrupted`` and exit status 130 (143 for SIGTERM)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AllocError as exc:
            report(exc)
        except KeyboardInterrupt as exc:
            interrupted(exc)
        except BrokenPipeError:
            raise  # the reader closed our output (`alloc ... | head`): click exits quietly, 1
        except OSError as exc:
            report(AllocError(exc.filename or "(unknown file)", "file", str(exc.strerror or exc)))

    return wrapper
