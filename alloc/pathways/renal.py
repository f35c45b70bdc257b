"""Renal pathway: CKD G3a-G5 -> dialysis (in-centre HD, home HD, PD) -> transplant -> death.

Annual Markov cohort (``models/pathways/renal.toml``). CKD stages G3a-G4 are split into
undiagnosed and diagnosed (on the CKD register) so that case finding can enable the treatment
levers; G5 not on kidney replacement therapy (KRT), conservative kidney management, the three
dialysis modalities, transplant (first year and functioning graft) and death complete it.

Payers: CKD G3-G5 care falls on ICB core (primary care, nephrology outpatients); dialysis and
transplantation are in the NHS England renal clinical reference group's scope (A06), i.e. the
delegated specialised budget (``domain/pathways.md`` section 1.1), calibrated to the ``renal``
service line. In-centre haemodialysis transport is an ICB core cost.

Levers in the file: SGLT2 inhibitor uptake, ACEi/ARB optimisation, CKD case finding, home
dialysis shift, pre-emptive transplantation.
"""

from __future__ import annotations

from alloc.pathways.base import Pathway

STATES = (
    "CKD_G3a_undiagnosed",
    "CKD_G3a_diagnosed",
    "CKD_G3b_undiagnosed",
    "CKD_G3b_diagnosed",
    "CKD_G4_undiagnosed",
    "CKD_G4_diagnosed",
    "CKD_G5",
    "conservative_care",
    "HD_incentre",
    "HD_home",
    "PD",
    "Tx_year1",
    "Tx_functioning",
    "dead",
)


class Renal(Pathway):
    """CKD to kidney failure (see the module docstring)."""

    name = "renal"
    title = "Renal: CKD -> dialysis -> transplant"
    service_lines = ("renal",)
    required_states = {"renal": STATES}
