"""The tabular layout of a round, shared by the CSV bundle, the Excel workbook and pandas.

One table per list of the round (``periods``, ``streams``, ``organisations``,
``placements``, ``supervisors``, ``pharmacists``, ``pins``, ``bans``, ``travel``,
``reference``) and three single-row tables for the sections (``round`` with the columns
``format``, ``id``, ``name``, ``ics``; ``rules``; ``weights``). The layout is derived from
the pydantic models in :mod:`matcher.domain`, so a new field appears here by itself:

* columns are named as the fields; a nested object is flattened with dots
  (``location.lat``, ``home.lon``, ``requires.skills``);
* a list-valued field (``skills``, ``preferences``, ``supervisors.placements``,
  ``rules.required_sectors``...) is one cell with the items joined by ``;``; an empty cell
  is an empty list;
* a per-period field (``capacity``, ``min_fill``) is either the plain column holding a
  whole number, or one column per period (``capacity.R1``, ``capacity.R2``...). A row with
  any value in a per-period column has a per-period object, in which a period whose cell
  is empty is left out (capacity 0 there). Giving both in one row is an error. Writers add
  per-period columns only when some placement needs them;
* ``reference.terms`` (ignored by the solver) is written as ``terms.<name>`` columns;
* placements and pharmacists may give their location as a ``postcode`` column instead of
  latitude and longitude, resolved from a lookup file by :mod:`matcher.formats.postcodes`
  (readers take ``postcodes=``; writers always write coordinates);
* an empty cell means the field is absent, so its default applies; blank rows are skipped;
* the ``round`` table may be missing, and an empty ``format`` cell means ``spin-round/1``;
  every list except ``periods``, ``placements`` and ``pharmacists`` may be missing;
* unknown tables and unknown columns are errors, never silently dropped; table and column
  names are matched ignoring case and surrounding spaces, and a name close to an expected
  one is answered with "did you mean". A missing required column (or table) is one problem,
  not one per row (or per reference to its records);
* a formula cell without a saved value (:data:`UNCALCULATED`, from the Excel reader) is an
  error saying so, never read as an empty cell.

Readers (CSV, Excel, frames) turn their files into :class:`RawTable` s and call
:func:`read_tables` (or :func:`tables_to_round`); writers call
:func:`matcher.formats.table_writer.round_to_tables`. Problems found by
validation are moved onto the file or sheet, the row as the planner sees it and the
column the value came from, and so are the warnings of the round read
(:meth:`~matcher.formats.loaded.Loaded.warnings`). The problems of each file come in row
order.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from matcher.domain import FORMAT, LIST_MODELS, SECTION_MODELS, Round
from matcher.errors import InvalidRoundError, Problem
from matcher.formats.loaded import Loaded
from matcher.formats.postcodes import LOCATION_FIELDS, Postcodes, parse_round_with_postcodes
from matcher.formats.safety import SizeLimits, unneutralise
from matcher.validation import Origin
from matcher.wording import closest

LIST_SEPARATOR = ";"
"""Separator of the items of a list-valued cell."""

SECTION_TABLES: tuple[str, ...] = tuple(SECTION_MODELS)
TABLE_NAMES: tuple[str, ...] = (
    "round",
    *LIST_MODELS,
    *(name for name in SECTION_MODELS if name != "round"),
)
"""Every table of the layout, in the order writers emit them."""
REQUIRED_TABLES: tuple[str, ...] = ("periods", "placements", "pharmacists")
"""Tables that must be present (and list at least one record)."""


class Kind(enum.Enum):
    """How a field is laid out in cells."""

    TEXT = "text"  # a string or a choice (numbers typed in a spreadsheet become text)
    DATE = "date"
    VALUE = "value"  # number or true/false: passed on for pydantic to check and coerce
    LIST = "list"  # items joined with ';'
    MODEL = "model"  # a nested object: one column per sub-field
    PER_PERIOD = "per_period"  # whole number, or one column per period
    MAPPING = "mapping"  # {name: number}: one column per name


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a table: its name, layout, description and whether it is required."""

    name: str
    kind: Kind
    description: str
    required: bool
    sub: tuple[FieldSpec, ...] = ()
    default: Any = None  # the model's default (None when required or when it is None)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table of the layout (a list of records, or a single-row section)."""

    name: str
    section: bool
    description: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        """The field with this name, if the table has one."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def base_headers(self) -> list[str]:
        """Column headers without per-period or per-name columns (what the template shows)."""
        out: list[str] = []
        for f in self.fields:
            if f.kind is Kind.MODEL:
                out += [f"{f.name}.{s.name}" for s in f.sub]
            elif f.kind is not Kind.MAPPING:
                out.append(f.name)
        return out


@dataclass(frozen=True, slots=True)
class Column:
    """A resolved column header: which field (and sub-field or period) its cells fill."""

    header: str
    key: str
    field: FieldSpec
    sub: str | None
    kind: Kind


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table as read from a file, before interpretation.

    ``source`` is how the planner knows it (``"placements.csv"``, sheet ``"placements"``);
    ``rows`` pairs each row's number as the planner sees it (the header is row 1 in files;
    frames use the 0-based position) with its cells.
    """

    name: str
    source: str
    header: Sequence[Any]
    rows: Sequence[tuple[int, Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class OutTable:
    """A table ready to write: headers and rows of ``str``, ``int``, ``float``, ``bool``,
    ``datetime.date`` or ``None`` (an empty cell)."""

    name: str
    header: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the readers: how tables and rows are named in messages."""

    noun: str  # "file", "sheet" or "frame"
    container: str  # "bundle", "workbook" or "frames"
    source_of: Callable[[str], str]  # table name -> planner-visible source
    column_label: Callable[[int], str]  # 0-based position -> "column F" / "column 6"
    quoted: bool = True  # strip formula neutralisation from text cells
    planner_rows: bool = True  # False for frames: report positions, not sheet rows


# ---- the layout, derived from the models --------------------------------------------------


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _kind_of(annotation: Any) -> tuple[Kind, type[BaseModel] | None]:
    tp = _strip_annotated(annotation)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [_strip_annotated(a) for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _kind_of(args[0])
        origins = {typing.get_origin(a) or a for a in args}
        if origins == {int, dict}:
            return Kind.PER_PERIOD, None
        return Kind.VALUE, None
    if origin is dict:
        return Kind.MAPPING, None
    if origin in (tuple, list):
        return Kind.LIST, None
    if origin is typing.Literal or tp is str:
        return Kind.TEXT, None
    if tp is dt.date:
        return Kind.DATE, None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return Kind.MODEL, tp
    return Kind.VALUE, None


def _field_specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    out = []
    for name, info in model.model_fields.items():
        kind, sub_model = _kind_of(info.annotation)
        sub = _field_specs(sub_model) if sub_model is not None else ()
        default = None if info.default is PydanticUndefined else info.default
        out.append(
            FieldSpec(name, kind, info.description or "", info.is_required(), sub, default)
        )
    return tuple(out)


def _doc(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0]


def _build_specs() -> dict[str, TableSpec]:
    specs: dict[str, TableSpec] = {}
    format_field = FieldSpec(
        "format", Kind.TEXT, Round.model_fields["format"].description or "", False
    )
    for name in TABLE_NAMES:
        if name in SECTION_MODELS:
            model = SECTION_MODELS[name]
            fields = _field_specs(model)
            if name == "round":
                fields = (format_field, *fields)
            specs[name] = TableSpec(name, True, _doc(model), fields)
        else:
            model = LIST_MODELS[name]
            specs[name] = TableSpec(name, False, _doc(model), _field_specs(model))
    return specs


TABLES: dict[str, TableSpec] = _build_specs()
"""The layout of every table, by table name."""


def resolve_column(spec: TableSpec, header: str) -> Column | None:
    """Which field a column header fills, or ``None`` if the table has no such column."""
    postcode = _postcode_column(spec, header)
    if postcode is not None:
        return postcode
    head, dot, rest = header.strip().partition(".")
    f = spec.field(head.strip().lower())
    if f is None:
        return None
    if not dot:
        if f.kind in (Kind.MODEL, Kind.MAPPING):
            return None
        leaf = Kind.VALUE if f.kind is Kind.PER_PERIOD else f.kind
        return Column(header, f.name, f, None, leaf)
    rest = rest.strip()
    if not rest:
        return None
    if f.kind is Kind.MODEL:
        for s in f.sub:
            if s.name == rest.lower():
                return Column(header, f"{f.name}.{s.name}", f, s.name, s.kind)
        return None
    if f.kind in (Kind.PER_PERIOD, Kind.MAPPING):
        return Column(header, f"{f.name}.{rest}", f, rest, Kind.VALUE)
    return None


def _postcode_column(spec: TableSpec, header: str) -> Column | None:
    """``postcode`` (or ``location.postcode`` / ``home.postcode``) in the placements and
    pharmacists tables: the location given as a postcode, resolved before validation by
    :mod:`matcher.formats.postcodes`."""
    target = LOCATION_FIELDS.get(spec.name)
    f = spec.field(target) if target is not None else None
    head, dot, rest = header.strip().partition(".")
    name = f"{head.strip()}{dot}{rest.strip()}".lower()
    if f is None or name not in ("postcode", f"{target}.postcode"):
        return None
    return Column(header, f"{target}.postcode", f, "postcode", Kind.TEXT)


# ---- cells --------------------------------------------------------------------------------


class Uncalculated:
    """A formula cell that was never calculated: the file holds the formula but no value
    (written by a program, not saved by Excel). Readers put :data:`UNCALCULATED` there."""

    def __repr__(self) -> str:
        return "UNCALCULATED"


UNCALCULATED = Uncalculated()
"""The cell of a formula without a saved value (see :class:`Uncalculated`)."""
UNCALCULATED_MESSAGE = ("the cell holds a formula Excel has not calculated; open and save the "
                        "file in Excel")


def is_empty(value: Any) -> bool:
    """Whether a cell is empty: nothing, blank text or a missing number (NaN)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def cell_value(value: Any, kind: Kind, *, quoted: bool) -> Any:
    """Interpret one cell for a field of the given kind; ``None`` means the cell is empty.

    Text is trimmed (and, when ``quoted``, stripped of the writers' formula neutralisation);
    numbers typed into a text field become text (a spreadsheet turns ``001`` into 1, an id
    ``2027`` into a number); date-times at midnight become dates. Everything else is passed
    on unchanged for pydantic to check. An uncalculated formula is ``None`` (its reader
    reports it).
    """
    if is_empty(value) or value is UNCALCULATED:
        return None
    if isinstance(value, str):
        text = value.strip()
        if quoted:
            text = unneutralise(text)
        if kind is Kind.LIST:
            return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]
        return text
    if isinstance(value, list | tuple):
        items = [cell_value(v, Kind.TEXT, quoted=quoted) for v in value]
        return [v for v in items if v is not None] if kind is Kind.LIST else value
    if isinstance(value, dt.datetime) and kind in (Kind.DATE, Kind.TEXT, Kind.LIST):
        if value.time() == dt.time(0) and value.tzinfo is None:
            value = value.date()
        elif kind is Kind.DATE:
            return value
    if kind in (Kind.TEXT, Kind.LIST) and not isinstance(value, bool):
        shown = _as_text(value)
        if shown is not None:
            return [shown] if kind is Kind.LIST else shown
    return value


def _as_text(value: Any) -> str | None:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


# ---- reading ------------------------------------------------------------------------------


@dataclass
class _Read:
    """What was read of one table: records, and where each came from."""

    spec: TableSpec
    source: str
    columns: dict[str, str] = field(default_factory=dict)  # canonical key -> header
    records: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # row number of each record
    ids: dict[str, int] = field(default_factory=dict)  # id -> index of its first record
    # (record index, or None for every row; field) whose "missing" is already explained
    # by a missing column or an uncalculated formula
    explained: set[tuple[int | None, str]] = field(default_factory=set)

    def explains(self, p: Problem) -> bool:
        """Whether a validation problem repeats what reading this table already said."""
        if p.code != "missing" or p.field is None:
            return False
        return any(
            (index is None or index == p.index)
            and (key == p.field or key.startswith(p.field + "."))
            for index, key in self.explained
        )


def tables_to_round(tables: Iterable[RawTable], dialect: Dialect,
                    postcodes: Postcodes = None) -> Round:
    """Interpret raw tables as a round, validate it and report problems where they are.

    ``postcodes`` is the lookup file for ``postcode`` columns (see
    :mod:`matcher.formats.postcodes`).

    Raises :class:`InvalidRoundError` listing the layout problems (unknown, missing or
    duplicate tables and columns...) together with every validation problem, each moved
    onto its file or sheet, row and column.
    """
    return read_tables(tables, dialect, postcodes).round


def read_tables(tables: Iterable[RawTable], dialect: Dialect,
                postcodes: Postcodes = None, limits: SizeLimits | None = None) -> Loaded:
    """:func:`tables_to_round`, keeping the way from each record back to its row and column
    (:class:`~matcher.formats.loaded.Loaded`), so warnings can be located like errors.

    A table that is missing is one problem, not one per reference to it: a misnamed sheet
    or file is reported once, with the name it probably should have ("did you mean"), and
    references to its records are not checked. A missing column is one problem for the
    table, not one per row; so is a missing column with a misspelt header beside it.
    With ``limits``, the rows of the pharmacists and placements tables are counted first
    (:class:`~matcher.formats.safety.TooLarge` above a cap, before anything is validated).
    """
    tables = list(tables)
    if limits is not None:
        counts: dict[str, int] = {}
        for raw in tables:
            name = raw.name.strip().lower()
            counts[name] = counts.get(name, 0) + len(raw.rows)
        limits.check_counts(counts, None)
    problems: list[Problem] = []
    reads: dict[str, _Read] = {}
    present = {raw.name.strip().lower() for raw in tables} & set(TABLES)
    misnamed: set[str] = set()
    for raw in tables:
        name = raw.name.strip().lower()
        spec = TABLES.get(name)
        if spec is None:
            guess = closest(name, [t for t in TABLE_NAMES if t not in present | misnamed])
            if guess is not None:
                misnamed.add(guess)
            problems.append(_unknown_table(raw, guess, dialect))
            continue
        if name in reads:
            problems.append(Problem(
                f"the {dialect.container} has two {dialect.noun}s for {name!r} "
                f"({reads[name].source!r} and {raw.source!r}); keep one",
                list=name, source=raw.source, code="duplicate_table"))
            continue
        read = _Read(spec, raw.source)
        problems += _read_table(raw, read, dialect)
        reads[name] = read
    for name in REQUIRED_TABLES:
        if name not in reads and name not in misnamed:
            problems.append(Problem(
                f"the {dialect.container} has no {dialect.source_of(name)!r} {dialect.noun}; "
                f"it is required and lists at least one {_singular(name)}",
                list=name, source=dialect.source_of(name), code="missing_table"))
    data = _assemble(reads)
    origin = Origin(rows={name: read.rows for name, read in reads.items()},
                    sheet_rows=dialect.planner_rows, columns=True,
                    unreadable=frozenset(misnamed))

    def locate(p: Problem) -> Problem:
        return _relocate(p, reads, dialect)

    try:
        rnd = parse_round_with_postcodes(data, postcodes, origin=origin)
    except InvalidRoundError as exc:
        relocated = [
            locate(p)
            for p in exc.problems
            if not (p.code == "missing" and p.list in REQUIRED_TABLES and p.list not in reads)
            and not (p.list in reads and reads[p.list].explains(p))
        ]
        warnings = [locate(p) for p in exc.warnings]
        raise InvalidRoundError(_row_by_row(problems + relocated), warnings) from None
    if problems:
        raise InvalidRoundError(_row_by_row(problems))
    return Loaded(rnd, locate)


def _row_by_row(problems: list[Problem]) -> list[Problem]:
    """The problems of each file or sheet in row order (the files in the order their first
    problem came; the problems of one row in the order they were found)."""
    first: dict[str | None, int] = {}
    for p in problems:
        first.setdefault(p.source, len(first))
    return sorted(problems, key=lambda p: (first[p.source], p.row or 0))


def _unknown_table(raw: RawTable, guess: str | None, dialect: Dialect) -> Problem:
    noun = dialect.noun
    if guess is None:
        return Problem(
            f"unknown {noun} {raw.source!r}; the {noun}s are: "
            + ", ".join(dialect.source_of(t) for t in TABLE_NAMES),
            source=raw.source, code="unknown_table")
    wanted = dialect.source_of(guess)
    return Problem(
        f"no {noun} {wanted!r}; found {raw.source!r}: did you mean {wanted!r}? Rename the "
        f"{noun}", list=guess, source=raw.source, code="misnamed_table")


def _singular(name: str) -> str:
    return name.removesuffix("s")


def _read_table(raw: RawTable, read: _Read, dialect: Dialect) -> list[Problem]:
    spec = read.spec
    problems: list[Problem] = []
    columns: list[Column | None] = []
    unnamed: set[int] = set()

    def at(row: int | None, column: str | None, message: str, code: str) -> Problem:
        if dialect.planner_rows:
            return Problem(message, list=spec.name, source=read.source, row=row, column=column,
                           code=code)
        return Problem(message, list=spec.name, index=row, field=column, column=column,
                       code=code)

    header_row = 1 if dialect.planner_rows else None
    unknown: list[tuple[str, int]] = []  # unknown headers and where their problems are
    for position, cell in enumerate(raw.header):
        text = cell_value(cell, Kind.TEXT, quoted=False)
        if text is None:
            columns.append(None)
            unnamed.add(position)
            continue
        header = str(text)
        column = resolve_column(spec, header)
        if column is None:
            unknown.append((header, len(problems)))
            problems.append(at(header_row, header, "", "unknown_column"))
        elif column.key in read.columns:
            problems.append(at(header_row, header,
                               f"column {header!r} appears twice; keep one", "duplicate_column"))
            column = None
        else:
            read.columns[column.key] = header
        columns.append(column)

    reported_unnamed: set[int] = set()
    for row_number, cells in raw.rows:
        if all(is_empty(c) for c in cells):
            continue
        for position, cell in enumerate(cells):
            beyond = position >= len(columns) or position in unnamed
            if beyond and not is_empty(cell) and position not in reported_unnamed:
                reported_unnamed.add(position)
                problems.append(at(row_number, dialect.column_label(position),
                                   "this value is in a column without a header; name the "
                                   "column in row 1 or delete the value", "unnamed_column"))
        for position, cell in enumerate(cells):
            column = columns[position] if position < len(columns) else None
            if cell is UNCALCULATED and column is not None:
                problems.append(at(row_number, column.header, UNCALCULATED_MESSAGE,
                                   "uncalculated_formula"))
                read.explained.add((len(read.records), column.key))
        record, conflicts = _record(columns, cells, dialect.quoted)
        for fname in conflicts:
            problems.append(at(row_number, read.columns.get(fname, fname),
                               f"give either {fname!r} or the per-period columns "
                               f"'{fname}.<period>', not both", "per_period_conflict"))
        if spec.section and read.records:
            problems.append(at(row_number, None,
                               f"the {spec.name} {dialect.noun} holds one row of values; this "
                               f"row is one too many", "extra_row"))
            continue
        rec_id = record.get("id")
        if isinstance(rec_id, str) and rec_id not in read.ids:
            read.ids[rec_id] = len(read.records)
        read.records.append(record)
        read.rows.append(row_number)
    missing = _missing_columns(spec, read) if read.records else []
    for key in missing:
        read.explained.add((None, key))
        found = closest(key, [header for header, _ in unknown])
        if found is None:
            problems.append(at(header_row, None, f"no column {key!r}; it is required: add it",
                               "missing_column"))
            continue
        claimed = next(u for u in unknown if u[0] == found)
        unknown.remove(claimed)
        problems[claimed[1]] = at(
            header_row, found, f"no column {key!r}; found {found!r}: did you mean {key!r}? "
            "Rename the column", "misnamed_column")
    absent = [h for h in spec.base_headers() if h not in read.columns and h not in missing]
    for header, index in unknown:
        guess = closest(header, absent)
        message = (_unknown_column(spec, header) if guess is None else
                   f"unknown column {header!r}: did you mean {guess!r}? Rename the column")
        problems[index] = problems[index].at(message=message)
    return problems


def _missing_columns(spec: TableSpec, read: _Read) -> list[str]:
    """The required columns a table lacks (a per-period field is there when any of its
    columns is; a location given by a postcode column needs no lat and lon)."""
    out = []
    for f in spec.fields:
        if not f.required:
            continue
        if f.kind is Kind.MODEL:
            if f"{f.name}.postcode" in read.columns:
                continue
            keys = [f"{f.name}.{s.name}" for s in f.sub if s.required]
        elif f.kind is Kind.PER_PERIOD and any(k.startswith(f"{f.name}.") for k in read.columns):
            continue
        else:
            keys = [f.name]
        out += [k for k in keys if k not in read.columns]
    return out


def _unknown_column(spec: TableSpec, header: str) -> str:
    message = f"unknown column {header!r}; the {spec.name} columns are: " + ", ".join(
        spec.base_headers()
    )
    keyed = [f.name for f in spec.fields if f.kind in (Kind.PER_PERIOD, Kind.MAPPING)]
    if keyed:
        message += " (and " + ", ".join(f"{k}.<{_key_noun(spec, k)}>" for k in keyed) + ")"
    return message


def _key_noun(spec: TableSpec, name: str) -> str:
    f = spec.field(name)
    return "period" if f is not None and f.kind is Kind.PER_PERIOD else "name"


def _record(
    columns: Sequence[Column | None], cells: Sequence[Any], quoted: bool
) -> tuple[dict[str, Any], list[str]]:
    """One row as a JSON-like record, and the per-period fields given both ways."""
    record: dict[str, Any] = {}
    keyed: dict[str, dict[str, Any]] = {}
    for position, column in enumerate(columns):
        if column is None:
            continue
        raw = cells[position] if position < len(cells) else None
        value = cell_value(raw, column.kind, quoted=quoted)
        if value is None:
            if column.kind is Kind.LIST:
                value = []  # an empty list cell is an empty list (the default where optional)
            else:
                continue
        f = column.field
        if f.kind is Kind.MODEL:
            record.setdefault(f.name, {})[column.sub] = value
        elif column.sub is not None:
            keyed.setdefault(f.name, {})[column.sub] = value
        else:
            record[f.name] = value
    conflicts = []
    for name, values in keyed.items():
        if name in record:
            conflicts.append(name)
        record[name] = values
    return record, conflicts


def _assemble(reads: Mapping[str, _Read]) -> dict[str, Any]:
    """The JSON-like round document from the tables read."""
    data: dict[str, Any] = {"format": FORMAT}
    for name in TABLE_NAMES:
        read = reads.get(name)
        if read is None:
            continue
        if not read.spec.section:
            data[name] = read.records
            continue
        if not read.records:
            continue
        record = dict(read.records[0])
        if name == "round":
            data["format"] = record.pop("format", FORMAT)
            if record:
                data["round"] = record
        else:
            data[name] = record
    return data


def _relocate(p: Problem, reads: Mapping[str, _Read], dialect: Dialect) -> Problem:
    """Move a validation problem onto the table, row and column its value came from."""
    table, fld = p.list, p.field
    if table is None and fld is not None:
        head, _, rest = fld.partition(".")
        if head == "format":
            table = "round"
        elif head in reads:
            table, fld = head, rest or None
    if table is None:
        return p
    read = reads.get(table)
    if read is None:
        return p.at(source=dialect.source_of(table)) if dialect.planner_rows else p
    position: int | None = None
    if read.spec.section:
        position = 0
    elif p.index is not None and 0 <= p.index < len(read.rows):
        position = p.index
    elif p.id is not None and p.id in read.ids:
        position = read.ids[p.id]
    row: int | None
    if position is not None and position < len(read.rows):
        row = read.rows[position]
    else:
        row = 2 if read.spec.section else None
    column = _column_for(fld, read.columns)
    if dialect.planner_rows:
        return p.at(source=read.source, row=row, column=column)
    index = p.index if read.spec.section or row is None else row
    return p.at(index=index, column=column)


def _column_for(fld: str | None, columns: Mapping[str, str]) -> str | None:
    """The header a dotted field path came from (``preferences.3`` -> ``preferences``)."""
    if fld is None:
        return None
    parts = fld.split(".")
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in columns:
            return columns[key]
    return fld
