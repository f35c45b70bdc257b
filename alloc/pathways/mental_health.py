"""Specialised mental health pathway: adult secure, CAMHS tier 4 and adult eating disorders.

Three stock-and-flow cohorts with long stays (``models/pathways/mental_health.toml``), stepped
monthly (``substeps = 12``), each calibrated to its own service line:

- ``adult_secure`` -> ``mental_health_secure``: medium and low secure beds (NHS and
  out-of-area / independent placements), high secure (NHS England retained), community forensic
  follow-up, discharge;
- ``camhs_tier4`` -> ``camhs_tier4``: general adolescent and PICU beds, out-of-area placements,
  intensive community / supported discharge, discharge;
- ``adult_eating_disorders`` -> ``adult_eating_disorders``: specialist inpatient beds,
  day-patient and community treatment, discharge.

Out-of-area placements are states of their own, entered by a share of admissions and left by
repatriation or discharge, priced at an independent-sector premium.

Payers: adult low and medium secure, CAMHS inpatient and adult eating-disorder inpatient care are
NHS England specialised services run through provider collaboratives (delegated specialised);
high secure stays with NHS England; community services are ICB core.

Levers in the file: crisis alternatives (admission avoidance), intensive community support
(shorter stays), step-down / community forensic capacity, repatriation.
"""

from __future__ import annotations

from alloc.pathways.base import Pathway

SECURE = (
    "medium_secure",
    "medium_secure_out_of_area",
    "low_secure",
    "high_secure",
    "community_forensic",
    "discharged",
    "died",
)
CAMHS = ("gau", "picu", "out_of_area", "intensive_community", "discharged")
EATING = ("inpatient", "day_patient", "discharged")


class MentalHealth(Pathway):
    """Specialised mental health stock-and-flow (see the module docstring)."""

    name = "mental_health"
    title = "Specialised mental health: secure, CAMHS tier 4, adult eating disorders"
    service_lines = ("mental_health_secure", "camhs_tier4", "adult_eating_disorders")
    required_states = {
        "adult_secure": SECURE,
        "camhs_tier4": CAMHS,
        "adult_eating_disorders": EATING,
    }
