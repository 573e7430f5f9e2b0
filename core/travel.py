"""Travel time between points, behind one small interface.

The default is the straight line times a detour factor at a configured speed; a road-time
provider (an OSRM ``/table`` service and the like) can replace it without touching callers.
Slot search asks for many legs at once, so the interface has an element-wise batch form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from core.geo import EARTH_RADIUS_KM, Point, distance_km


class TravelTimes(Protocol):
    def minutes(self, origin: Point, destination: Point) -> int:
        """Whole minutes to drive from ``origin`` to ``destination`` (rounded up)."""
        ...

    def pairwise(
        self,
        origin_lat: Sequence[float] | np.ndarray,
        origin_lon: Sequence[float] | np.ndarray,
        destination_lat: Sequence[float] | np.ndarray,
        destination_lon: Sequence[float] | np.ndarray,
    ) -> list[int]:
        """Minutes for each origin → destination pair (arrays broadcast; NaN → 0)."""
        ...


class StraightLineTravel:
    def __init__(self, *, speed_kmh: float, detour_factor: float) -> None:
        self._km_per_minute = speed_kmh / 60
        self._detour = detour_factor

    def minutes(self, origin: Point, destination: Point) -> int:
        if origin == destination:
            return 0
        return max(
            0,
            math.ceil(distance_km(origin, destination) * self._detour / self._km_per_minute - 1e-9),
        )

    def pairwise(
        self,
        origin_lat: Sequence[float] | np.ndarray,
        origin_lon: Sequence[float] | np.ndarray,
        destination_lat: Sequence[float] | np.ndarray,
        destination_lon: Sequence[float] | np.ndarray,
    ) -> list[int]:
        lat1 = np.radians(np.asarray(origin_lat, dtype=float))
        lat2 = np.radians(np.asarray(destination_lat, dtype=float))
        dlon = np.radians(
            np.asarray(destination_lon, dtype=float) - np.asarray(origin_lon, dtype=float)
        )
        h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        minutes = np.ceil(km * self._detour / self._km_per_minute - 1e-9)
        result: list[int] = np.nan_to_num(minutes, nan=0.0).astype(np.int64).tolist()
        return result
