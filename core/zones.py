"""Zones are polygons in a city (``shapely``); zones may overlap and a point finds them all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely import Polygon
from shapely.errors import ShapelyError

from core.errors import InvalidInput
from core.geo import Point


@dataclass(frozen=True)
class ZoneShape:
    id: int
    code: str
    geometry: Polygon


def parse_polygon(wkt: str) -> Polygon:
    """A valid WKT polygon with lon/lat coordinates, or a clear error."""
    try:
        geometry = shapely.from_wkt(wkt)
    except (ShapelyError, ValueError) as err:
        raise InvalidInput(
            "invalid_value", field="polygon", value=wkt[:60], reason=str(err)
        ) from err
    if not isinstance(geometry, Polygon) or geometry.is_empty or not geometry.is_valid:
        raise InvalidInput(
            "invalid_value", field="polygon", value=wkt[:60], reason="expected a valid polygon"
        )
    return geometry


def polygon_wkt(ring: Sequence[tuple[float, float]]) -> str:
    """WKT for a ring of (lat, lon) corners, as people list them."""
    wkt: str = Polygon([(lon, lat) for lat, lon in ring]).wkt
    return wkt


class ZoneMap:
    """The zones of a company, prepared for fast point lookups."""

    def __init__(self, zones: Iterable[tuple[int, str, str]]) -> None:
        self._zones = [ZoneShape(id, code, parse_polygon(wkt)) for id, code, wkt in zones]
        for zone in self._zones:
            shapely.prepare(zone.geometry)

    def zones_at(self, point: Point) -> list[int]:
        """Ids of every zone containing the point (edges included)."""
        location = shapely.Point(point.lon, point.lat)
        return [z.id for z in self._zones if z.geometry.intersects(location)]

    def representative_point(self, zone_id: int) -> Point:
        """A point surely inside the zone, standing in for an address placed only on a zone."""
        for zone in self._zones:
            if zone.id == zone_id:
                inside = zone.geometry.representative_point()
                return Point(inside.y, inside.x)
        raise KeyError(zone_id)
