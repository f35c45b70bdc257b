"""Progress on stderr as each stage of a long command starts, and its stage timings.

A run prints nothing on stdout until it has its summary, so a new user saw nothing for seconds
(36 s on a loaded machine, issue 14) and thought it had hung. :class:`Stages` prints one line
``<stage>...`` on stderr as each stage starts (silent under ``--quiet``) and, with
``--timings``, a table of the time each stage and each of its parts took.
"""

from __future__ import annotations

import time

import click


class Stages:
    """Stage hook for the layers below: call ``stages(stage)`` or ``stages(stage, part)`` as each
    starts.

    A stage's first call prints ``<stage>...`` on stderr (when ``show``); every call ends the
    previous part and starts timing the new one (a stage without a part is timed as its own row).

    Parameters
    ----------
    show : bool
        Print the progress lines (False under ``--quiet``).
    """

    def __init__(self, show: bool):
        self.show = show
        self.parts: list[tuple[str, str | None, float]] = []  # (stage, part, seconds)
        self._current: tuple[str, str | None] | None = None
        self._since = time.perf_counter()
        self._said: set[str] = set()

    def __call__(self, stage: str, part: str | None = None) -> None:
        self.stop()
        self._current = (stage, part)
        if stage not in self._said:
            self._said.add(stage)
            self.say(f"{stage}...")

    def say(self, line: str) -> None:
        """Print one progress line on stderr (unless quiet)."""
        if self.show:
            click.echo(line, err=True)

    def stop(self) -> None:
        """End the current part (its time is recorded)."""
        now = time.perf_counter()
        if self._current is not None:
            self.parts.append((*self._current, now - self._since))
        self._current, self._since = None, now

    def table(self) -> str:
        """The stages in the order they started, each with its parts indented [seconds]."""
        totals: dict[str, float] = {}
        parts: dict[str, list[tuple[str, float]]] = {}
        for stage, part, seconds in self.parts:
            totals[stage] = totals.get(stage, 0.0) + seconds
            if part is not None:
                parts.setdefault(stage, []).append((part, seconds))
        width = max([len(s) for s in totals] + [len(p) + 2 for s in parts.values() for p, _ in s])
        width = max(width, len("total"))
        lines = [f"{'stage':<{width}}  {'seconds':>8}"]
        for stage, seconds in totals.items():
            lines.append(f"{stage:<{width}}  {seconds:>8.3f}")
            for part, part_seconds in parts.get(stage, []):
                lines.append(f"{'  ' + part:<{width}}  {part_seconds:>8.3f}")
        lines.append(f"{'total':<{width}}  {sum(totals.values()):>8.3f}")
        return "\n".join(lines)


__all__ = ["Stages"]
