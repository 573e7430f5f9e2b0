"""Travel time between two points, behind one small interface.

The default is the straight line times a detour factor at a configured speed; a road-time
provider (OSRM and the like) can replace it without touching the callers.
"""

from __future__ import annotations

import math
from typing import Protocol

from core.geo import Point, distance_km


class TravelTimes(Protocol):
    def minutes(self, origin: Point, destination: Point) -> int:
        """Whole minutes to drive from ``origin`` to ``destination`` (rounded up)."""
        ...


class StraightLineTravel:
    def __init__(self, *, speed_kmh: float, detour_factor: float) -> None:
        self._km_per_minute = speed_kmh / 60
        self._detour = detour_factor

    def minutes(self, origin: Point, destination: Point) -> int:
        if origin == destination:
            return 0
        return math.ceil(distance_km(origin, destination) * self._detour / self._km_per_minute)
