"""pandas DataFrames: one frame per table of the tabular layout, for notebooks.

``round_to_frames`` gives one frame per table (sections as one-row frames) with pandas'
nullable dtypes; ``round_from_frames`` reads them back. Missing values (``NaN``, ``None``,
``pd.NA``) are empty cells. List cells may hold the ``;``-joined text or a Python list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from matcher.domain import Round
from matcher.formats.postcodes import Postcodes
from matcher.formats.table_writer import round_to_tables
from matcher.formats.tabular import Dialect, RawTable, tables_to_round

DIALECT = Dialect(
    noun="frame",
    container="frames",
    source_of=lambda table: table,
    column_label=lambda position: f"column {position}",
    quoted=False,
    planner_rows=False,
)


def round_to_frames(rnd: Round) -> dict[str, pd.DataFrame]:
    """One DataFrame per table of the round (``periods``, ``placements``... and the one-row
    ``round``, ``rules`` and ``weights``), columns as in the CSV and Excel layout."""
    frames: dict[str, pd.DataFrame] = {}
    for name, table in round_to_tables(rnd).items():
        frame = pd.DataFrame(table.rows, columns=table.header, dtype=object)
        frames[name] = frame.convert_dtypes() if len(frame) else frame
    return frames


def round_from_frames(frames: Mapping[str, pd.DataFrame], postcodes: Postcodes = None
                      ) -> Round:
    """Validate a round from DataFrames keyed by table name (optional tables may be absent);
    ``postcodes`` is the lookup file for ``postcode`` columns.

    Raises :class:`matcher.errors.InvalidRoundError` listing every problem, with ``index``
    the row's position in its frame and ``column`` the column it came from.
    """
    tables = [
        RawTable(
            name=str(name),
            source=str(name),
            header=[str(c) for c in frame.columns],
            rows=list(enumerate(map(_cells, frame.itertuples(index=False, name=None)))),
        )
        for name, frame in frames.items()
    ]
    return tables_to_round(tables, DIALECT, postcodes)


def _cells(row: Sequence[Any]) -> list[Any]:
    return [_plain(v) for v in row]


def _plain(value: Any) -> Any:
    """A pandas or numpy cell as a plain Python value (``None`` when missing)."""
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
