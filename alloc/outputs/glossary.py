"""The terms a user meets in alloc's outputs: one source for ``alloc glossary``, the workbook's
Notes sheet and the documentation's glossary page (``docs/gen_reference.py``)."""

from __future__ import annotations

#: (term, explanation), in reading order.
GLOSSARY: list[tuple[str, str]] = [
    ("Baseline", "The historic-cost allocation of the base year (first year column)."),
    (
        "Envelope",
        "The national total shared out each year: the base-year baseline total grown by the "
        "scenario's envelope growth. Targets and allocations both sum to it exactly.",
    ),
    (
        "Weighted population",
        "Registered population weighted by need (age, sex, deprivation and the like), as in NHS "
        "England's ICB allocations; a component per type of care (general and acute, mental "
        "health, maternity, ...). A target share is an ICB's weighted population over England's.",
    ),
    (
        "Target",
        "The needs-based target: target share x national envelope. Target shares come "
        "from the formula named on the Parameters sheet. ICB targets sum to the envelope.",
    ),
    (
        "Distance from target (DfT)",
        "(allocation - target) / target, as a percentage of target. "
        "Negative = under target: the ICB receives less than its needs-based share; positive = "
        "over target. -5.00% means the allocation is 5% below the target. Because allocations and "
        "targets both sum to the envelope, England's DfT is 0%. This is NHS England's definition "
        "(e.g. 2013/14 allocation working paper).",
    ),
    (
        "Need index",
        "Target per head of GP-registered population divided by the England target "
        "per head: England = 1.000. An ICB with index 1.100 needs 10% more per head than the "
        "England average. Indices are relative to England, not to the region.",
    ),
    (
        "Growth",
        "Cash growth of the allocation on the previous year. The England row is the "
        "growth of the national envelope.",
    ),
    (
        "Pace of change",
        "Each year the envelope is shared out by the policy named on the "
        "Parameters sheet: allocations move towards target subject to floors and caps, and always "
        "sum exactly to the envelope.",
    ),
    (
        "Floor and cap",
        "The least and the most an ICB's allocation may grow in a year (cash, real or per head, "
        "as the policy says). When the floors cost more than the envelope, or the caps leave "
        "money unallocated, the policy is infeasible that year and alloc says so.",
    ),
    (
        "Convergence rate",
        "For proportional policies: the share of the gap between an ICB's uplifted allocation "
        "and its target closed each year (0.2 closes a fifth of the gap).",
    ),
    (
        "Spend and net position",
        "When the scenario models pathways: projected specialised spend "
        "and net position = allocation - spend (positive = headroom). Otherwise the sheet says "
        "'not modelled in this scenario'.",
    ),
    (
        "Left shift",
        "When the scenario models pathway levers: specialised spend avoided by "
        "upstream investment and the upstream cost, by payer. Otherwise 'not modelled in this "
        "scenario'.",
    ),
    (
        "Left-shift summary",
        "What `alloc run` prints after the table for a scenario with levers, the same as "
        "left_shift_summary.csv and the board pack's left-shift summary page: per pathway and "
        "for England, summed over the projection years, in cash, not discounted. Saving = "
        "delegated specialised spend avoided (positive = less spend; negative = more). Upstream "
        "cost = what the levers cost, by the payer who funds them (positive = money spent). "
        "Left-shift net position = saving - upstream cost (positive = the specialised budget "
        "saves more than the levers cost; not the 'net position' allocation - spend). Return "
        "per £1 = saving / upstream cost (n/a when nothing is invested); unlike ROI it is "
        "gross, undiscounted and counts only the specialised saving. Pathway costs the levers "
        "change for other payers are shown beside it, not in it. With the three ICBs with the "
        "largest and the smallest left-shift net position.",
    ),
    (
        "Calibration",
        "When the scenario models pathway levers: each pathway's modelled national activity in "
        "the base year against published figures (HES critical care admissions, renal registry "
        "dialysis and transplant counts, secure and CAMHS beds, liver transplants), the national "
        "volume factor that sets it, and each ICB's cost factor k = baseline / modelled "
        "specialised cost at national unit costs. A k outside 0.5-2 is flagged: the baseline then "
        "differs from the modelled need by more than unit costs vary between areas.",
    ),
    (
        "ROI by payer",
        "Return on an upstream investment for each payer (delegated specialised budget, ICB "
        "core, others): the spend it avoids for that payer divided by what that payer invests. "
        "A lever can pay back for the system and not for the payer who funds it.",
    ),
    (
        "Geography and crosswalk",
        "The areas a result is on (e.g. icb_2026: the 36 ICBs from 1 April 2026). The crosswalk "
        "gives each area's predecessor areas and the share of each (registered population), to "
        "reconcile with figures published on the old footprint.",
    ),
    (
        "Rounding",
        "Largest remainder (default): each figure is rounded down to £k, then the "
        "figures with the largest remainders are rounded up until the column sums to its England "
        "total rounded half up, so published columns add up. Round half up (option): each figure "
        "on its own, as NHS England's published tables and Excel's ROUND. Percentages are not "
        "rounded; cell formats show two decimals. Unrounded pounds are in result.nc and the CSV "
        "files.",
    ),
]


def lookup(term: str | None = None) -> list[tuple[str, str]]:
    """Entries whose term contains ``term`` (case-insensitive); all entries without one."""
    if not term:
        return list(GLOSSARY)
    key = term.strip().lower()
    return [(t, text) for t, text in GLOSSARY if key in t.lower()]
