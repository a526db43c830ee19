"""The placements on their coordinates as inline SVG: no tiles, no script, works offline.

Each placement is a circle (area by seats over the round) at its longitude and latitude
(equirectangular, x scaled by cos(latitude) so distances look right), coloured by the
share of its seats the result fills, with its id, name and fill in a ``<title>`` (shown on
hover, read by screen readers). A boundary from the planner's own GeoJSON (Polygon,
MultiPolygon, LineString or MultiLineString geometries, bare or in Features) is drawn
beneath, clipped to nothing: the view fits both.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

from matcher.domain import Round
from matcher.result import Result

__all__ = ["BANDS", "boundary_paths", "placement_map"]

Ring = list[tuple[float, float]]

BANDS: tuple[tuple[float, str, str], ...] = (
    (1.0, "#007f3b", "every seat filled"),
    (0.75, "#78be20", "75% or more filled"),
    (0.5, "#ffb81c", "50% to 75% filled"),
    (0.0, "#d5281b", "under 50% filled"),
)
"""Fill bands: lower bound, colour (NHS.UK palette), legend text."""
_NO_RESULT = ("#768692", "not solved yet")
_W, _H, _PAD = 720.0, 520.0, 24.0
_MAX_BOUNDARY_POINTS = 200_000


def _colour(share: float) -> str:
    return next(c for low, c, _ in BANDS if share >= low - 1e-9)


def boundary_paths(data: bytes) -> tuple[list[Ring], str | None]:
    """The rings and lines of a GeoJSON file as (lon, lat) lists; an error message
    instead when it cannot be read."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return [], "The boundary file is not GeoJSON (it is not valid JSON)."
    rings: list[Ring] = []

    def geometry(g: Any) -> None:
        if not isinstance(g, dict):
            return
        kind, coords = g.get("type"), g.get("coordinates")
        if kind == "GeometryCollection":
            for part in g.get("geometries") or []:
                geometry(part)
        elif kind == "LineString":
            rings.append(_points(coords))
        elif kind in ("Polygon", "MultiLineString"):
            rings.extend(_points(r) for r in coords or [])
        elif kind == "MultiPolygon":
            rings.extend(_points(r) for poly in coords or [] for r in poly)

    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        for feature in doc.get("features") or []:
            geometry(feature.get("geometry") if isinstance(feature, dict) else None)
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        geometry(doc.get("geometry"))
    else:
        geometry(doc)
    rings = [r for r in rings if len(r) >= 2]
    if not rings:
        return [], ("The boundary file has no lines or polygons with longitude and "
                    "latitude: export the boundary as GeoJSON (WGS 84).")
    if sum(len(r) for r in rings) > _MAX_BOUNDARY_POINTS:
        return [], (f"The boundary has more than {_MAX_BOUNDARY_POINTS:,} points: "
                    "simplify it (for example in QGIS or mapshaper) and try again.")
    return rings, None


def _points(coords: Any) -> Ring:
    out: Ring = []
    for c in coords or []:
        if (isinstance(c, list | tuple) and len(c) >= 2
                and all(isinstance(v, int | float) for v in c[:2])
                and -180 <= c[0] <= 180 and -90 <= c[1] <= 90):
            out.append((float(c[0]), float(c[1])))
    return out


def _fill(rnd: Round, result: Result | None) -> dict[str, tuple[int, int]]:
    seats = {pl.id: sum(pl.capacity_in(t) for t in rnd.period_ids)
             for pl in rnd.placements}
    held: dict[str, int] = defaultdict(int)
    if result is not None:
        for a in result.assignments:
            held[a.placement] += 1
    return {p: (s, held[p]) for p, s in seats.items()}


def placement_map(rnd: Round, result: Result | None, boundary: Sequence[Ring] = ()
                  ) -> tuple[Markup, list[tuple[str, str]]]:
    """The map's ``<svg>`` and its legend (colour, text)."""
    fill = _fill(rnd, result)
    pts = [(pl.location.lon, pl.location.lat) for pl in rnd.placements]
    every = pts + [p for r in boundary for p in r]
    lons, lats = [p[0] for p in every], [p[1] for p in every]
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2)) if lats else 1.0
    width = max((max(lons) - min(lons)) * kx, 1e-6) if lons else 1.0
    height = max(max(lats) - min(lats), 1e-6) if lats else 1.0
    scale = min((_W - 2 * _PAD) / width, (_H - 2 * _PAD) / height)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return (_PAD + (lon - min(lons)) * kx * scale, _H - _PAD - (lat - min(lats)) * scale)

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W:.0f} {_H:.0f}" '
        'role="img" aria-labelledby="map-title" class="app-map" focusable="false">',
        f'<title id="map-title">Map of the {len(pts)} placements of round '
        f'{escape(rnd.round.id)}</title>',
        f'<rect width="{_W:.0f}" height="{_H:.0f}" fill="#f0f4f5"/>']
    for ring in boundary:
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring))
        parts.append(f'<polyline points="{d}" fill="none" stroke="#425563" '
                     'stroke-width="1.2"/>')
    largest = max((s for s, _ in fill.values()), default=1) or 1
    order: Iterable[Any] = sorted(rnd.placements, key=lambda pl: -fill[pl.id][0])
    for pl in order:
        seats, held = fill[pl.id]
        x, y = xy(pl.location.lon, pl.location.lat)
        r = 3 + 9 * math.sqrt(seats / largest)
        if result is None:
            colour, what = _NO_RESULT[0], f"{seats} seat(s)"
        elif seats == 0:
            colour, what = "#aeb7bd", "closed (no seats)"
        else:
            colour, what = _colour(held / seats), f"{held} of {seats} seats filled"
        label = f"{pl.id} – {pl.name}: {what}" if pl.name else f"{pl.id}: {what}"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" '
                     f'stroke="#212b32" stroke-width="0.8" data-id="{escape(pl.id)}">'
                     f'<title>{escape(label)}</title></circle>')
    parts.append("</svg>")
    legend = ([(c, text) for _, c, text in BANDS] + [("#aeb7bd", "closed (no seats)")]
              if result is not None else [_NO_RESULT])
    # every text in parts went through escape(); the rest are numbers and constants
    return Markup("".join(parts)), legend  # noqa: S704
