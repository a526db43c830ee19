"""Planner-facing help for the workbook: what each sheet and column is for, and dropdowns.

The words for each column come from the field descriptions of the pydantic models (the
single source of truth); this module adds what a planner filling a spreadsheet needs on
top: what each sheet is for, how to write lists and per-period values, and the choices
offered in dropdowns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from matcher.domain import FORMAT, SECTORS
from matcher.formats.tabular import LIST_SEPARATOR, TABLE_NAMES, TABLES, Kind

INSTRUCTIONS_SHEET = "instructions"
"""Name of the help sheet; readers ignore it."""

SUPERVISES: tuple[str, ...] = ("all", "non_prescribers", "early_years")

SHEET_PURPOSE: dict[str, str] = {
    "round": "Which round this is: one row. Keep format as spin-round/1.",
    "periods": "The rotation periods, one row each, in time order (for example R1, R2, R3).",
    "streams": "Optional. Portfolio working: in every period each pharmacist holds one "
    "placement in each stream at the same time (for example 6 sessions a week in a practice "
    "and 4 in a host organisation). Leave it empty for a simple rotation.",
    "organisations": "Optional. Practices, PCNs, trusts and community pharmacy companies that "
    "host placements. max_pharmacists caps how many pharmacists one organisation hosts in a "
    "period across all its placements.",
    "placements": "The placements offered, one row each: who hosts it, where it is, how many "
    "pharmacists it takes per period and how much filling it matters.",
    "supervisors": "Optional. Supervisors (for example designated prescribing practitioners), "
    "the placements they cover and how many pharmacists they can supervise per period.",
    "pharmacists": "The cohort, one row per pharmacist. The home location is used only to "
    "work out travel; it is never shown in reports or logs.",
    "pins": "Optional. Assignments that must happen: this pharmacist, this period, this "
    "placement.",
    "bans": "Optional. Pharmacist and placement pairs that must not happen. Leave period empty "
    "to ban the pair in every period.",
    "travel": "Optional. Travel costs that replace the straight-line distance for a pair (for "
    "example minutes from a routing tool), in the same unit as max_travel_km.",
    "reference": "Optional. An earlier allocation of this round, to re-plan with as few "
    "changes as possible when something changes mid-programme (see weights.change).",
    "rules": "One row: the scheme's hard rules. An empty cell takes the default.",
    "weights": "One row: how much each priority counts. An empty cell takes the default.",
}

GENERAL_NOTES: tuple[str, ...] = (
    "Fill in one sheet per list. Row 1 holds the column names: do not rename them. Each row "
    "from row 2 down is one record; blank rows are skipped.",
    "An empty cell means 'not given': the default shown below applies.",
    f"A list goes in one cell with the items separated by semicolons ({LIST_SEPARATOR}), for "
    "example GP-BD-017; HOSP-BHRUT-AMU. Preferences are ranked best first.",
    "capacity (and min_fill) takes one whole number used in every period. For a different "
    "number in each period, add columns named capacity.R1, capacity.R2 ... (one per period "
    "id) and leave capacity empty on that row; a period left empty then has capacity 0.",
    "true/false columns take TRUE or FALSE. Dates are date cells or text like 2027-01-04. "
    "Locations are decimal degrees (latitude 51.53, longitude 0.11; west of Greenwich is "
    "negative).",
    "Instead of latitude and longitude, placements and pharmacists may give a postcode: add "
    "a column named postcode and leave the latitude and longitude empty on that row (when "
    "a row has both, latitude and longitude are used). Postcodes are looked up in a file "
    "you supply (the ONS Postcode Directory CSV: matcher validate ROUND --postcodes FILE).",
    "Ids must be unique within their sheet, and other sheets must use them exactly as written.",
    "Only the sheets listed here are read (this instructions sheet is ignored); rename or "
    "delete any other sheet. Formulas are not recalculated: the value last saved by Excel is "
    "used.",
)

_PER_PERIOD_TEXT = (
    "a whole number used in every period. For a different number in each period, add "
    "columns named {name}.R1, {name}.R2 ... (one per period id) and leave {name} empty on "
    "that row; a period left empty then has 0."
)
_COLUMN_TEXT: dict[tuple[str, str], str] = {
    ("round", "format"): "Keep spin-round/1 (already filled in): the version of this layout.",
    ("placements", "stream"): "Stream the placement belongs to: required when the streams "
    "sheet lists streams; pick one of them.",
    ("periods", "start"): "First day of the period (a date like 2027-01-04).",
    ("bans", "period"): "Period id; leave it empty to ban the pair in every period.",
    ("rules", "max_travel_km"): "Default furthest travel for pharmacists who give none; leave "
    "it empty for no limit.",
    ("placements", "capacity"): "Most pharmacists the placement takes in a period: "
    + _PER_PERIOD_TEXT.format(name="capacity"),
    ("placements", "min_fill"): "How many the placement should get in a period (a shortfall "
    "costs weights.shortfall each): " + _PER_PERIOD_TEXT.format(name="min_fill"),
}
"""Planner wording that replaces a model description written for the JSON form."""

_PLACE_NOTE = ("Type the place's name, or pick it from the list when the workbook offers one "
               "(see 'Places' at the end of the instructions sheet).")
_COLUMN_NOTES: dict[tuple[str, str], str] = {
    ("placements", "sector"): "Pick one: " + ", ".join(SECTORS) + ".",
    ("placements", "place"): _PLACE_NOTE,
    ("organisations", "place"): _PLACE_NOTE,
    ("placements", "organisation"): "Pick one from the organisations sheet.",
    ("supervisors", "supervises"): "Pick one: " + ", ".join(SUPERVISES) + ".",
    ("supervisors", "placements"): "Placement ids separated by semicolons.",
    ("pharmacists", "preferences"): "Separated by semicolons.",
    ("pharmacists", "history"): "Separated by semicolons.",
    ("pharmacists", "unavailable"): "Separated by semicolons.",
    ("pharmacists", "skills"): "Separated by semicolons.",
    ("placements", "requires.skills"): "Separated by semicolons.",
    ("rules", "required_sectors"): "Sectors separated by semicolons.",
}
"""What a planner needs on top of the model description."""


def column_help(table: str, header: str) -> str:
    """What to enter in one column, in planner language, with whether it is required."""
    head, _, sub = header.partition(".")
    f = TABLES[table].field(head)
    if f is None:
        return ""
    if sub and f.kind is Kind.PER_PERIOD:
        return (f"Optional. {head} in period {sub}: a whole number; on a row that uses "
                f"{head}.<period> columns, a period left empty has 0.")
    text, required, default = f.description, f.required, f.default
    s = next((x for x in f.sub if x.name == sub), None)
    if s is not None:
        text = f"{f.description.rstrip('.')}: {s.description[0].lower()}{s.description[1:]}"
        required, default = f.required and s.required, s.default
    text = _COLUMN_TEXT.get((table, header), text)
    note = _COLUMN_NOTES.get((table, header))
    if note:
        text = f"{text} {note}"
    if required:
        status = "Required."
    elif default is None or isinstance(default, BaseModel):
        status = "Optional."
    else:
        status = f"Optional (default {_shown(default)})."
    return f"{status} {text}"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value == ():
        return "empty"
    return str(value)


PLACES_HEADING = "Places"
"""First cell of the row that heads the place list (the place dropdowns' choices)."""


def instruction_rows(places: Sequence[str] = ()) -> list[list[str]]:
    """The rows of the instructions sheet: general notes, then sheet, column and help, then
    (when ``places`` are given) the places offered in the place dropdowns, one per row in
    column B of the last rows."""
    rows: list[list[str]] = [
        ["SPIN Matcher round workbook", "", ""],
        [f"Format {FORMAT}. How to fill it in:", "", ""],
    ]
    rows += [["", note, ""] for note in GENERAL_NOTES]
    rows.append(["", "", ""])
    rows.append(["Sheet", "Column", "What to enter"])
    for name in TABLE_NAMES:
        rows.append([name, "", SHEET_PURPOSE[name]])
        rows += [[name, h, column_help(name, h)] for h in TABLES[name].base_headers()]
    if places:
        rows.append(["", "", ""])
        rows.append([PLACES_HEADING, "", "The place dropdowns of the placements and "
                     "organisations sheets offer these places of the ICS. A place not listed "
                     "can still be typed: Excel asks you to confirm it."])
        rows += [["", place, ""] for place in places]
    return rows
