"""Rich display in notebooks: the small HTML tables that ``_repr_html_`` methods return.

Jupyter shows an object's ``_repr_html_()`` instead of its ``repr``: a
:class:`~matcher.domain.Round` shows its size and shape, a :class:`~matcher.result.Result`
its status, objective, bound, gap and headline KPIs, a
:class:`~matcher.whatif.ResultDiff` its headline, moves and changed KPIs. Every value is
HTML-escaped. Callers pass ids and counts only: these tables never show names or homes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

__all__ = ["fmt", "html_table", "key_values"]


def fmt(value: object) -> str:
    """A value as a notebook shows it: thousands separated, shares to 4 significant digits,
    lists joined with commas, ``None`` as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def html_table(rows: Iterable[Sequence[object]], *, header: Sequence[str] | None = None,
               caption: str | None = None) -> str:
    """An HTML table: one ``<tr>`` per row (the first cell a row heading), values formatted
    with :func:`fmt` and escaped."""
    parts = ['<table class="spin-matcher">']
    if caption:
        parts.append(f'<caption style="text-align:left"><b>{escape(caption)}</b></caption>')
    if header:
        parts.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header)
                     + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        head, *rest = row
        parts.append(f'<tr><th style="text-align:left">{escape(fmt(head))}</th>'
                     + "".join(f'<td style="text-align:right">{escape(fmt(v))}</td>'
                               for v in rest) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def key_values(pairs: Iterable[tuple[str, object]], *, caption: str | None = None) -> str:
    """A two-column table of (what, value) pairs."""
    return html_table(pairs, caption=caption)
