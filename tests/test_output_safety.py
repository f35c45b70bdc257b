"""Output safety (issue 13): a scenario name is a plain file name, ``--force`` replaces only a
results folder alloc wrote, and an interrupted run (Ctrl-C, SIGTERM, kill -9) leaves nothing
behind, without a traceback.

The CLI runs in a subprocess (``alloc_cli`` in conftest.py, or ``subprocess.Popen`` to send it a
signal while it writes), with ``--no-plots`` to keep the file fast; the finer cases of what may
be replaced are checked in process.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import message_lines

from alloc.errors import AllocError
from alloc.outputs.atomic import MARKER, check_output_file, check_output_folder

REPO = Path(__file__).resolve().parents[1]
RUN = ("run", "--quiet", "--no-plots")
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and symbolic links")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _sentinel(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "file.txt").write_text("keep me")
    return folder / "file.txt"


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _in_process(tmp_path: Path, monkeypatch, *args: str) -> subprocess.CompletedProcess:
    """`alloc ARGS` in this process (faster than a subprocess), cwd ``tmp_path``."""
    from click.testing import CliRunner

    from alloc.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, list(args))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _refused(proc, *words: str) -> str:
    both = proc.stdout + proc.stderr
    assert proc.returncode == 2, both
    assert "Traceback" not in both, both
    lines = message_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _fake_results(folder: Path, marker_files: list[str] | None, files: list[str]) -> None:
    """A folder holding ``files``, with a marker listing ``marker_files`` (None: no marker)."""
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    if marker_files is not None:
        marker = {"writer": "alloc", "target": folder.name, "files": marker_files}
        (folder / MARKER).write_text(json.dumps(marker))


# --- item 1: the scenario name and --force ------------------------------------------------------


@pytest.mark.parametrize(
    "name,subprocess_",
    [("", True), ("{victim}", False), ("..", False)],
    ids=["empty", "absolute", "dot-dot"],
)
def test_hostile_scenario_name_with_force_is_refused(
    alloc_cli, tmp_path, monkeypatch, name, subprocess_
):
    """`name` becomes results/<name>: '' was results/ itself and an absolute path any folder."""
    kept = _sentinel(tmp_path / "results" / "keep_me")
    victim = _sentinel(tmp_path / "victim")
    name = name.format(victim=tmp_path / "victim")
    args = (*RUN, "default", "--set", f"name={json.dumps(name)}", "--force")
    proc = alloc_cli(*args) if subprocess_ else _in_process(tmp_path, monkeypatch, *args)
    line = _refused(proc, "name", "plain file name", "e.g.")
    assert kept.read_text() == "keep me" and victim.read_text() == "keep me", line
    assert _tree(tmp_path) == ["results", "results/keep_me", "results/keep_me/file.txt"] + [
        "victim",
        "victim/file.txt",
    ]


@pytest.mark.parametrize(
    "name,why",
    [
        (".", "starts with '.'"),
        ("../x", "path separator"),
        ("a\\b", "path separator"),
        ("C:x", "not allowed in file names"),
        (".hidden", "starts with '.'"),
        (" x", "space"),
        ("a\tb", "control character"),
        ("x" * 101, "longer than 100 characters"),
    ],
)
def test_scenario_name_must_be_a_plain_file_name(name, why):
    from alloc.inputs.scenario import load_scenario

    with pytest.raises(AllocError, match="name: expected a plain file name") as caught:
        load_scenario("default", [f"name={json.dumps(name)}"])
    assert why in str(caught.value)


def test_ordinary_scenario_names_are_accepted():
    from alloc.inputs.scenario import load_scenario

    for name in ("default", "My scenario 2026-27 (v2.1)", "a.b", "x" * 100):
        assert load_scenario("default", [f"name={json.dumps(name)}"])[0].name == name


@pytest.mark.parametrize("out,subprocess_", [("mine", True), (".", False)])
def test_force_at_a_folder_alloc_did_not_write_is_refused(
    alloc_cli, tmp_path, monkeypatch, out, subprocess_
):
    """A user's folder, or the current folder, is refused with --force and kept as it was."""
    _sentinel(tmp_path)
    _sentinel(tmp_path / "mine")
    before = _tree(tmp_path)
    args = (*RUN, "--out", out, "--force")
    proc = alloc_cli(*args) if subprocess_ else _in_process(tmp_path, monkeypatch, *args)
    _refused(proc, f"{out}: output folder: ", "no .alloc-results", "--force replaces only")
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "marker,files,why",
    [
        (["result.nc"], ["result.nc", "notes.txt"], "holds files alloc did not write (notes.txt)"),
        (["result.nc"], ["result.nc", "charts/mine.png"], "charts/mine.png"),
        (None, ["result.nc", "allocations.csv", "notes.txt"], "did not write (notes.txt)"),
        (None, ["result.nc", "summary.csv"], "no .alloc-results"),
    ],
    ids=["extra-file", "extra-chart", "old-results-extra-file", "not-results"],
)
def test_force_at_results_with_other_files_is_refused(tmp_path, marker, files, why):
    _fake_results(tmp_path / "r", marker, files)
    with pytest.raises(AllocError, match="--force replaces only") as caught:
        check_output_folder(tmp_path / "r", force=True)
    assert why in str(caught.value)
    assert all((tmp_path / "r" / name).exists() for name in files)


def test_root_home_parent_and_links_are_refused(tmp_path):
    with pytest.raises(AllocError, match="root of the file system"):
        check_output_folder("/", force=True)
    (tmp_path / "sub").mkdir()
    for folder in (Path.home(), tmp_path / "sub" / ".."):
        with pytest.raises(AllocError, match="no .alloc-results"):
            check_output_folder(folder, force=True)
    with pytest.raises(AllocError, match="already exists"):
        check_output_folder(tmp_path, force=False)
    _fake_results(tmp_path / "real", ["result.nc"], ["result.nc"])
    check_output_folder(tmp_path / "real", force=True)  # a results folder alloc wrote
    if os.name == "posix":
        (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
        with pytest.raises(AllocError, match="symbolic link"):
            check_output_folder(tmp_path / "link", force=True)


def test_single_file_outputs_never_replace_a_folder(tmp_path):
    folder = _sentinel(tmp_path / "pack.pdf").parent
    with pytest.raises(AllocError, match="is a folder"):
        check_output_file(folder, "--out", force=True)
    (tmp_path / "old.pdf").write_text("old")
    check_output_file(tmp_path / "old.pdf", "--out", force=True)  # a file may be replaced
    with pytest.raises(AllocError, match="already exists"):
        check_output_file(tmp_path / "old.pdf", "--out", force=False)


# --- item 2: interruptions ----------------------------------------------------------------------


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _start_and_wait_for_temp(tmp_path: Path, out: str, *args: str) -> subprocess.Popen:
    """Start `alloc run --out OUT` and return once its temporary folder `.OUT.*` exists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alloc", *RUN, "--out", out, *args],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,  # a background shell may have SIGINT ignored
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f".{out}.*")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no temporary folder appeared: {proc.communicate()}")
        time.sleep(0.002)
    return proc


@POSIX
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_writing_leaves_nothing_behind(tmp_path, signum):
    proc = _start_and_wait_for_temp(tmp_path, "X")
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, (proc.returncode, stderr)  # 143 or 130
    assert "Traceback" not in stdout + stderr, stderr
    assert stderr.splitlines() == ["interrupted"], stderr
    assert list(tmp_path.iterdir()) == [], "no X, no .X.* left behind"


def test_ctrl_c_while_the_command_starts_prints_one_line(tmp_path):
    """Ctrl-C during the imports at start-up (raised in `import alloc.inputs.years`)."""
    script = (
        "import runpy, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'alloc.inputs.years':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "runpy.run_module('alloc', run_name='__main__', alter_sys=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "run", "--quiet"],  # no progress lines: only the one
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines() == ["interrupted"], proc.stderr


@POSIX
def test_kill_9_leftover_is_removed_and_force_replaces_alloc_results(alloc_cli, tmp_path):
    """kill -9 leaves the temporary folder; the next run removes it (and only it) and replaces
    a results folder written before the marker; a re-run with --force replaces its own."""
    import xarray as xr

    _fake_results(tmp_path / "X", None, ["result.nc", "allocations.csv", "charts/dft.png"])
    proc = _start_and_wait_for_temp(tmp_path, "X", "--force")
    proc.kill()  # SIGKILL cannot be caught: the temporary folder stays
    proc.communicate(timeout=60)
    (left,) = tmp_path.glob(".X.*")
    assert (tmp_path / "X" / "charts" / "dft.png").exists()  # the old folder is untouched
    # Not removed: a hidden folder of the user's, and one of a process that is still running.
    _sentinel(tmp_path / ".X.abcdefgh")
    running = tmp_path / ".X.running1"
    running.mkdir()
    marker = {"writer": "alloc", "target": "X", "pid": os.getpid(), "host": platform.node()}
    (running / MARKER).write_text(json.dumps(marker))

    again = alloc_cli(*RUN, "--out", "X", "--force")
    assert again.returncode == 0, again.stderr
    assert not left.exists()
    assert "note: removed" in again.stderr and left.name in again.stderr, again.stderr
    assert "killed" in again.stderr, again.stderr
    assert (tmp_path / ".X.abcdefgh" / "file.txt").exists() and running.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".X.abcdefgh", ".X.running1", "X"]
    marker = json.loads((tmp_path / "X" / MARKER).read_text())
    assert {"result.nc", "allocations.csv", "alloc_results.xlsx"} <= set(marker["files"])
    assert not (tmp_path / "X" / "charts").exists()

    (tmp_path / "X" / ".DS_Store").write_text("")  # a file browser's own file does not block
    forced = alloc_cli(*RUN, "--out", "X", "--force", "--set", "policy.min_growth=0.02")
    assert forced.returncode == 0, forced.stderr
    assert "note:" not in forced.stderr
    with xr.open_dataset(tmp_path / "X" / "result.nc", engine="h5netcdf") as ds:
        assert '"min_growth": 0.02' in ds.attrs["scenario_json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".X.abcdefgh", ".X.running1", "X"]
