"""Generate the illustrative historic-cost baseline and patient counts in this folder.

ILLUSTRATIVE DATA. No per-ICB specialised baseline is published in the sources we hold, so this
script makes a plausible one, seeded and reproducible:

1. National total: GBP 14,000,000,000 for 2025/26, the value of the 70 services delegated to all
   42 ICBs in April 2025 (NHS Confederation, Feb 2025; `national_figures.csv`). Sourced.
2. Split by service line with the illustrative `national_share` column of `services.csv`.
3. Within a service line, each ICB starts from its proxy needs-based share (2025/26 GP-registered
   population x the need index of the service's weighted-population component, exactly the
   default formula in `models/formula/default.toml`) and is moved off target by a historic-cost
   distance: higher near the big specialist centres (a bump that decays with the distance from the
   ICB's real population-weighted centroid to the nearest centre), plus ICB-level and
   ICB x service noise. Each service line is then rescaled to its national total and rounded to
   whole pounds by largest remainder, so the lines sum exactly.
4. Patients per ICB x service line = baseline / the illustrative `cost_per_patient_gbp`, with
   +/-15% ICB-level intensity noise, rounded to whole patients.

Run from anywhere: ``python data/make_illustrative.py`` rewrites `baseline.csv` and
`patients.csv` beside it. Seed: 20250401.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alloc.rounding import apportion  # needs alloc installed (pip install -e .)

SEED = 20250401
NATIONAL_TOTAL_GBP = 14_000_000_000  # 2025/26, 70 delegated services (NHS Confederation 2025)
BASE_YEAR_LABEL = "2025/26"

# Illustrative locations of major specialist centres (approximate city-centre lat, lon) and the
# size of the historic-cost bump each carries (fraction above target next to the centre).
CENTRES = {
    "London": (51.507, -0.128, 0.14),
    "Manchester": (53.480, -2.240, 0.10),
    "Birmingham": (52.480, -1.900, 0.09),
    "Leeds": (53.800, -1.550, 0.08),
    "Newcastle": (54.970, -1.610, 0.08),
    "Cambridge": (52.205, 0.120, 0.09),
    "Oxford": (51.752, -1.258, 0.07),
    "Bristol": (51.454, -2.588, 0.07),
    "Liverpool": (53.408, -2.992, 0.06),
    "Sheffield": (53.381, -1.470, 0.05),
    "Nottingham": (52.954, -1.158, 0.05),
    "Southampton": (50.910, -1.404, 0.05),
}
DECAY_KM = 35.0  # e-folding distance of the centre bump [km]
ICB_NOISE_SD = 0.03  # ICB-level historic-cost noise [fraction]
SERVICE_NOISE_SD = 0.06  # ICB x service noise [fraction]
INTENSITY_NOISE = 0.15  # half-width of uniform cost-per-patient noise [fraction]


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance [km] between points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def main(folder: Path) -> None:
    rng = np.random.default_rng(SEED)
    icbs = pd.read_csv(folder / "icbs.csv")
    services = pd.read_csv(folder / "services.csv")
    wp = pd.read_csv(folder / "weighted_populations.csv")
    wp = wp[wp["year"] == BASE_YEAR_LABEL].set_index("code").loc[icbs["code"]]

    import tomllib

    formula = tomllib.loads((folder.parent / "models" / "formula" / "default.toml").read_text())

    bump = np.zeros(len(icbs))
    for lat, lon, size in CENTRES.values():
        d = haversine_km(icbs["lat"].to_numpy(), icbs["lon"].to_numpy(), lat, lon)
        bump = np.maximum(bump, size * np.exp(-d / DECAY_KM))
    icb_offset = bump + rng.normal(0.0, ICB_NOISE_SD, len(icbs))

    rows, patient_rows = [], []
    intensity = 1.0 + rng.uniform(-INTENSITY_NOISE, INTENSITY_NOISE, len(icbs))
    for svc in services.itertuples():
        spec = formula["services"][svc.service]
        component = wp[f"wp_{spec['need_component']}"].to_numpy()
        pop = wp["gp_pop"].to_numpy()
        need_index = (component / pop) / (component.sum() / pop.sum())
        proxy = pop * need_index
        dft = icb_offset + rng.normal(0.0, SERVICE_NOISE_SD, len(icbs))
        weight = proxy * np.clip(1.0 + dft, 0.5, None)
        service_total = int(round(NATIONAL_TOTAL_GBP * svc.national_share))
        gbp = apportion(weight, service_total)
        patients = np.rint(gbp / (svc.cost_per_patient_gbp * intensity)).astype(np.int64)
        for code, g, n in zip(icbs["code"], gbp, patients):
            rows.append((code, svc.service, BASE_YEAR_LABEL, g))
            patient_rows.append((code, svc.service, BASE_YEAR_LABEL, n))

    pd.DataFrame(rows, columns=["code", "service", "year", "baseline_gbp"]).to_csv(
        folder / "baseline.csv", index=False
    )
    pd.DataFrame(patient_rows, columns=["code", "service", "year", "patients"]).to_csv(
        folder / "patients.csv", index=False
    )


if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
