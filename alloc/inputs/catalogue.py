"""What is shipped, read with the standard library only: for `alloc list`, which must answer
without importing numpy, pandas or pydantic (start-up within a fraction of ``import xarray``).

These readers show the shipped files as they are; the full readers
(:func:`alloc.inputs.geography.load_geography`, :func:`alloc.inputs.dataset.load_inputs`)
validate them, and ``tests/test_cli_startup.py`` checks that both give the same lists.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

from alloc.errors import AllocError
from alloc.resources import data_dir


def _rows(path: Path) -> list[dict[str, str]]:
    """A CSV's non-empty rows as dictionaries of stripped text (as ``dataset.read_csv``)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = [
                {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in csv.DictReader(f)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AllocError(path, "file", f"expected a readable CSV file ({exc})") from None
    return [row for row in rows if any(row.values())]


def _geographies_dir() -> Path:
    return data_dir() / "geographies"


def shipped_geographies() -> list[str]:
    """Names of the shipped geographies (folders of ``data/geographies`` with a ``meta.toml``)."""
    return sorted(p.name for p in _geographies_dir().iterdir() if (p / "meta.toml").is_file())


def area_rows(geography: str) -> list[tuple[str, str, str]]:
    """``(code, name, region)`` of each area of a shipped geography, sorted by code."""
    rows = _rows(_geographies_dir() / geography / "areas.csv")
    return sorted((r["code"], r["name"], r["region"]) for r in rows)


def geography_summaries() -> list[tuple[str, int, str, str]]:
    """``(name, number of areas, status, description)`` of each shipped geography."""
    out = []
    for name in shipped_geographies():
        folder = _geographies_dir() / name
        meta = tomllib.loads((folder / "meta.toml").read_text(encoding="utf-8"))
        n_areas = len(_rows(folder / "areas.csv"))
        out.append((name, n_areas, meta.get("status", ""), meta.get("description", "")))
    return out


def service_rows() -> list[tuple[str, str]]:
    """``(service, service_name)`` of each service line of the embedded dataset, in file order."""
    return [(r["service"], r["service_name"]) for r in _rows(data_dir() / "services.csv")]


__all__ = ["shipped_geographies", "area_rows", "geography_summaries", "service_rows"]
