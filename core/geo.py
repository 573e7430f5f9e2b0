"""Points on the map and the straight-line distance between them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180) or math.isnan(
            self.lat + self.lon
        ):
            raise InvalidInput(
                "invalid_value",
                field="point",
                value=f"{self.lat},{self.lon}",
                reason="latitude -90..90, longitude -180..180",
            )

    @classmethod
    def parse(cls, text: str) -> Point:
        """``"50.45,30.52"`` → Point."""
        try:
            lat, lon = (float(part) for part in text.split(","))
        except ValueError as err:
            raise InvalidInput(
                "invalid_value", field="point", value=text, reason="expected LAT,LON"
            ) from err
        return cls(lat, lon)


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
