"""Write output folders and files atomically, and never replace anything alloc did not write.

A results folder is written into a hidden temporary folder beside it, ``.NAME.xxxxxxxx``, and
renamed into place only when complete. Both hold a marker file, :data:`MARKER`, naming the
process that writes it and, once complete, every file in the folder. ``force`` replaces an
existing folder only if it is a results folder alloc wrote and holds nothing else: its marker
lists everything in it, or (written before the marker, alloc 0.2.0 and earlier) it holds only
files alloc writes, including ``result.nc`` and ``allocations.csv``. Anything else, such as the
home folder, ``.`` or a folder with the user's own files in it, is refused.

A process stopped by ``kill -9`` cannot remove its temporary folder; the next write to the same
folder removes temporary folders whose marker names a process of this computer that has ended.
Nothing here prints: a caller passes ``note`` to hear what was removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alloc._version import __version__
from alloc.errors import AllocError

#: Marker file in every results folder (and its temporary folder) alloc writes.
MARKER = ".alloc-results"
#: Files the operating system or a file browser may add; they never block a replacement.
SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: Results folders written before the marker: (files it must hold, files it may hold).
LEGACY_LAYOUTS = (
    (
        {"result.nc", "allocations.csv"},
        {
            "result.nc",
            "allocations.csv",
            "targets_by_service.csv",
            "summary.csv",
            "crosswalk.csv",
            "alloc_results.xlsx",
            "charts",
        },
    ),
    (
        {"ensemble.nc", "ensemble_quantiles.csv"},
        {"ensemble.nc", "ensemble_quantiles.csv", "ensemble_full.nc"},
    ),
)
_REFUSED = (
    "--force replaces only a results folder written by alloc; choose another folder with --out, "
    "or move or delete this one yourself"
)

Note = Callable[[str], None]


def _target(path: str | Path) -> Path:
    """``path`` with its parent folder resolved (``.`` and ``..`` resolved in full), so the
    folder that is checked is the folder that is replaced."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def _read_marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("writer") == "alloc" else None


def _contents(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, as relative POSIX paths."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _chart_file(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0] == "charts" and parts[1].endswith((".png", ".svg"))


def _foreign(folder: Path) -> str | None:
    """Why ``folder`` is not a results folder alloc may replace, or None if it is."""
    if folder.is_symlink():
        return "is a symbolic link, not a results folder"
    if not folder.is_dir():
        return "is a file, not a results folder"
    try:
        marker = _read_marker(folder)
        if marker is not None and isinstance(marker.get("files"), list):
            allowed, legacy = set(marker["files"]) | {MARKER}, False
        else:  # written before the marker? Look at the top level first (it may be a home folder)
            top = {p.name for p in folder.iterdir()} - SYSTEM_FILES
            layout = next((allowed for needed, allowed in LEGACY_LAYOUTS if needed <= top), None)
            if layout is None:
                return f"is not a results folder written by alloc (it has no {MARKER} file)"
            allowed, legacy = set(layout), True
        contents = _contents(folder)
    except OSError as exc:
        return f"could not be read ({exc.strerror or exc})"
    others = {
        c
        for c in contents
        if c not in allowed
        and not (legacy and _chart_file(c))
        and c.rsplit("/", 1)[-1] not in SYSTEM_FILES
    }
    if others:
        shown = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
        return f"holds files alloc did not write ({shown})"
    return None


def check_output_folder(out_dir: str | Path, force: bool, field: str = "output folder") -> Path:
    """Check that ``out_dir`` may be written; return it with its parent resolved.

    It may be written if it does not exist, or with ``force`` if it is a results folder alloc
    wrote (see the module docstring).

    Raises
    ------
    AllocError
        If ``out_dir`` exists without ``force``, or is not a results folder alloc wrote.
    """
    target = _target(out_dir)
    if not target.name:
        raise AllocError(out_dir, field, f"is the root of the file system; {_REFUSED}")
    if not (target.exists() or target.is_symlink()):
        return target
    if not force:
        raise AllocError(
            out_dir,
            field,
            "already exists; choose another with --out or pass --force to replace it",
        )
    if (why := _foreign(target)) is not None:
        raise AllocError(out_dir, field, f"{why}; {_REFUSED}")
    return target


def check_output_file(out: str | Path, field: str, force: bool) -> None:
    """Check that the file ``out`` may be written: it does not exist, or with ``force`` it is a
    file (a folder is never replaced).

    Raises
    ------
    AllocError
        If ``out`` exists without ``force``, or is a folder.
    """
    out = Path(out)
    if not (out.exists() or out.is_symlink()):
        return
    if not force:
        raise AllocError(
            out, field, "already exists; choose another name or pass --force to replace it"
        )
    if out.is_dir() and not out.is_symlink():
        raise AllocError(
            out, field, "is a folder; --force replaces only a file: choose another file name"
        )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this computer is running (True when it cannot be told)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would end the process on Windows
        try:
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            handle = kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
            if not handle:
                return ctypes.get_last_error() != 87  # ERROR_INVALID_PARAMETER: no such process
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            kernel32.CloseHandle(handle)
            return code.value == 259  # STILL_ACTIVE
        except Exception:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale(out_dir: str | Path) -> list[Path]:
    """Remove temporary folders beside ``out_dir`` left by alloc processes that were killed.

    Only folders named as :func:`atomic_folder` names them (``.NAME.xxxxxxxx``, and
    ``.NAME.xxxxxxxx.old`` for the folder being replaced) whose marker names ``out_dir`` and a
    process of this computer that has ended are removed. Returns the folders removed.
    """
    target = _target(out_dir)
    ours = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}(\.old)?")
    removed = []
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in siblings:
        if not ours.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        marker = _read_marker(entry)
        if marker is None or marker.get("target") != target.name:
            continue
        if entry.name.endswith(".old") and not target.exists():
            continue  # the folder being replaced, and its replacement is not in place
        pid = marker.get("pid")
        if marker.get("host") != platform.node() or not isinstance(pid, int) or _alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


def _write_marker(folder: Path, target: str, files: list[str] | None = None) -> None:
    marker = {
        "writer": "alloc",
        "version": __version__,
        "target": target,
        "pid": os.getpid(),
        "host": platform.node(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if files is not None:
        marker["files"] = files
    (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def record_file(folder: str | Path, name: str) -> None:
    """Record ``name``, a file alloc has just written into the results folder ``folder`` (the
    board pack), in the folder's marker, so that ``--force`` may still replace the folder.
    Nothing happens for a folder without a complete marker (not a results folder alloc wrote).
    """
    folder = Path(folder)
    marker = _read_marker(folder)
    if marker is None or not isinstance(marker.get("files"), list):
        return
    files = sorted(set(marker["files"]) | {name})
    _write_marker(folder, str(marker.get("target", folder.name)), files)


@contextmanager
def atomic_folder(
    out_dir: str | Path, force: bool = False, note: Note | None = None
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``out_dir`` only if the block succeeds.

    An existing ``out_dir`` is replaced only with ``force``, and only if it is a results folder
    alloc wrote (:func:`check_output_folder`, checked before and again after the block); on any
    error or interruption the temporary folder is removed and ``out_dir`` is left as it was.
    Temporary folders left by killed processes are removed first (:func:`remove_stale`) and
    reported to ``note``.
    """
    target = check_output_folder(out_dir, force)
    for stale in remove_stale(target):
        if note is not None:
            note(f"removed {stale}, a temporary folder left by an alloc run that was killed")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Named before it is made, so that an interruption at any moment leaves nothing behind.
    made = False
    tmp = old = target.parent / f".{target.name}.{_random_suffix()}"
    try:
        while not made:
            try:
                tmp.mkdir(0o777)  # with the umask, as ordinary files (mkdtemp's are private)
                made = True
            except FileExistsError:
                tmp = old = target.parent / f".{target.name}.{_random_suffix()}"
        _write_marker(tmp, target.name)
        yield tmp
        _write_marker(tmp, target.name, sorted(_contents(tmp) - {MARKER}))
        check_output_folder(out_dir, force)  # it may have appeared or changed during the run
        if target.exists() or target.is_symlink():
            old = tmp.with_name(tmp.name + ".old")
            target.rename(old)
            try:
                tmp.rename(target)
            except BaseException:
                old.rename(target)
                raise
        else:
            tmp.rename(target)
    except BaseException:
        if made:
            shutil.rmtree(tmp, ignore_errors=True)
        else:  # interrupted in mkdir: remove the folder only if it was made (and so is empty)
            with contextlib.suppress(OSError):
                tmp.rmdir()
        raise
    finally:
        if old != tmp and target.exists() and not tmp.exists():  # the new folder is in place
            shutil.rmtree(old, ignore_errors=True)  # the folder it replaced


def _random_suffix() -> str:
    return "".join(random.choices("abcdefghijklmnopqrstuvwxyz0123456789_", k=8))
