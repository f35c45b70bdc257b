"""Liver pathway: significant fibrosis -> compensated cirrhosis -> decompensation -> HCC ->
transplant -> death, by aetiology (alcohol-related, metabolic).

Annual Markov cohort (``models/pathways/liver.toml``) with the structure of the UK Tanajewski
2017 NAFLD pathway model (``domain/pathways.md`` section 4.1), stratified by aetiology: every
state exists once per stratum (``alcohol/...``, ``metabolic/...``), the strata sharing rates and
differing in their share of prevalence and incidence and in which levers reach them (abstinence
support and alcohol care teams reach the alcohol stratum only). Fibrosis and compensated
cirrhosis are split into undiagnosed and diagnosed, with the diagnosed transition probabilities
of Tanajewski 2017.

Payers: liver transplantation is highly specialised (NHS England retained); specialised
hepatology for decompensated cirrhosis and HCC is delegated specialised (share of the cost an
explicit, illustrative parameter) and calibrated to the ``liver`` service line; fibrosis testing,
alcohol care and most decompensation admissions are ICB core; alcohol treatment services are
commissioned by local authorities (public health).

Levers in the file: alcohol care teams, fibrosis case finding, abstinence support.
"""

from __future__ import annotations

from alloc.inputs.specs import FieldError
from alloc.pathways.base import Pathway

STATES = (
    "fibrosis_F3_undiagnosed",
    "fibrosis_F3_diagnosed",
    "cirrhosis_undiagnosed",
    "cirrhosis_diagnosed",
    "decompensated",
    "hcc",
    "transplant_year1",
    "post_transplant",
    "dead",
)
STRATA = ("alcohol", "metabolic")


class Liver(Pathway):
    """Liver disease by aetiology (see the module docstring)."""

    name = "liver"
    title = "Liver: fibrosis -> cirrhosis -> decompensation / HCC -> transplant"
    service_lines = ("liver",)
    required_states = {"liver": STATES}

    def check(self, spec):
        super().check(spec)
        strata = spec.cohorts["liver"].strata or {}
        if tuple(strata) != STRATA:
            raise FieldError(
                "cohorts.liver.strata",
                f"expected the aetiology strata "
                f"{', '.join(STRATA)}; found {', '.join(strata) or 'none'}",
            )
