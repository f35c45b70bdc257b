"""Adult critical care pathway: admissions by source -> level 3 / level 2 bed-days -> delayed
discharge -> ward step-down / discharge / death.

A stock-and-flow model with length of stay (``models/pathways/critical_care.toml``), stepped in
daily sub-steps (``substeps = 365``) because stays last days: each bed state has exit rate
``365.25 / LOS`` [per year] split over its destinations, and admissions arrive from four feeder
streams (elective surgery, emergency medical, ward deterioration, other) driven by the
registered population.

Payers: a critical care period is NHS England (specialised) responsibility only when linked to a
specialised service spell under the Identification Rules; the rest is ICB core. The specialised
share of critical care bed-day costs is therefore an **explicit input**, the cohort parameter
``share_specialised``: each bed state's cost is split ``share`` to the delegated specialised
budget (calibrated to the ``adult_critical_care`` service line) and ``1 - share`` to ICB core.
The brief's "roughly half" is not verified by any source found (``domain/pathways.md`` 2.1).

Levers in the file: critical care outreach / rapid response, step-down (enhanced care) capacity,
reduced delayed discharge.
"""

from __future__ import annotations

from alloc.inputs.specs import FieldError
from alloc.pathways.base import Pathway

STATES = ("level3", "level2", "delayed_discharge", "ward_stepdown", "discharged", "died")
BED_STATES = ("level3", "level2", "delayed_discharge")


class CriticalCare(Pathway):
    """Adult critical care flows (see the module docstring)."""

    name = "critical_care"
    title = "Adult critical care: admissions -> bed-days -> discharge"
    service_lines = ("adult_critical_care",)
    required_states = {"critical_care": STATES}
    required_parameters = {"critical_care": ("share_specialised",)}

    def check(self, spec):
        super().check(spec)
        cohort = spec.cohorts["critical_care"]
        for state in BED_STATES:
            shares = {
                (c.payer, c.complement)
                for c in cohort.states[state].costs
                if c.share_of == "share_specialised"
            }
            if shares != {("ICB_delegated_specialised", False), ("ICB_core", True)}:
                raise FieldError(
                    f"cohorts.critical_care.states.{state}.costs",
                    "expected the bed-day cost split by share_specialised: one item "
                    "for ICB_delegated_specialised and its complement for ICB_core",
                )
