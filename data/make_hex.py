"""Write the hexagon layout of every shipped geography: ``data/geographies/<name>/hex.csv``.

Derived, illustrative layouts (see ``data/geographies/README.md``): one hexagon per area, placed
near the area's population-weighted centroid (the registered-population-weighted mean of its GP
practices' coordinates in ``data/practices.csv``, rounded to 4 decimals as the results carry it)
by :func:`alloc.outputs.plots._hexgrid.layout_from_centroids`, which is deterministic. Run from
the repository root:

    python data/make_hex.py

Two runs write byte-identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA.parent))

from alloc.outputs.plots._hexgrid import HEX_FILE, layout_from_centroids  # noqa: E402


def centroids(name: str) -> pd.DataFrame:
    """Areas of geography ``name`` with their population-weighted centroids (lat, lon)."""
    folder = DATA / "geographies" / name
    areas = pd.read_csv(folder / "areas.csv", dtype=str, keep_default_na=False)
    practices = pd.read_csv(DATA / "practices.csv").merge(
        pd.read_csv(folder / "practices.csv"), on="practice_code"
    )
    practices["wlat"] = practices["lat"] * practices["gp_pop"]
    practices["wlon"] = practices["lon"] * practices["gp_pop"]
    sums = practices.groupby("area")[["wlat", "wlon", "gp_pop"]].sum()
    areas["lat"] = (sums["wlat"] / sums["gp_pop"]).round(4).loc[areas["code"]].to_numpy()
    areas["lon"] = (sums["wlon"] / sums["gp_pop"]).round(4).loc[areas["code"]].to_numpy()
    return areas


def main() -> None:
    for folder in sorted((DATA / "geographies").iterdir()):
        if not (folder / "areas.csv").is_file():
            continue
        areas = centroids(folder.name)
        qr = layout_from_centroids(areas["lat"], areas["lon"])
        out = pd.DataFrame({"code": areas["code"], "q": qr[:, 0], "r": qr[:, 1]})
        out.sort_values("code").to_csv(folder / HEX_FILE, index=False, lineterminator="\n")
        print(f"wrote {folder / HEX_FILE} ({len(out)} areas)")


if __name__ == "__main__":
    main()
