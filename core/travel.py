"""Travel time between points, behind one small interface.

The default is the straight line times a detour factor at a configured speed; a road-time
provider (an OSRM ``/table`` service and the like) can replace it without touching callers.
Slot search asks for many legs at once, so the interface has an element-wise batch form.

Route planning asks once per plan for the full matrix between all the day's points
(:class:`TravelMatrix`, through the async :class:`MatrixSource`): the straight line computes
it locally, :class:`OsrmMatrix` asks an OSRM-compatible ``/table`` service. Core imports no
HTTP library: the OSRM source takes a ``fetch`` callable (URL → parsed JSON) and defaults to
the standard library's ``urllib`` run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import BrigadierError
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

    async def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        """Seconds and metres between every pair of ``points`` along the detoured line."""
        return straight_line_matrix(
            points, speed_kmh=self._km_per_minute * 60, detour_factor=self._detour
        )


IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Travel between every pair of a plan's points: ``seconds[i, j]`` and ``metres[i, j]``.

    A leg no road reaches holds :data:`UNREACHABLE` in both.
    """

    seconds: IntMatrix
    metres: IntMatrix

    def __post_init__(self) -> None:
        if self.seconds.shape != self.metres.shape or self.seconds.ndim != 2:
            raise ValueError("seconds and metres must be square matrices of one shape")


UNREACHABLE = 10**9
"""Seconds and metres of a leg without a road: far beyond any working day."""


class MatrixSource(Protocol):
    async def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        """Travel between every pair of ``points``, computed once for a whole plan."""
        ...


def straight_line_matrix(
    points: Sequence[Point], *, speed_kmh: float, detour_factor: float
) -> TravelMatrix:
    lat = np.radians(np.asarray([p.lat for p in points], dtype=float))
    lon = np.radians(np.asarray([p.lon for p in points], dtype=float))
    dlat = lat[None, :] - lat[:, None]
    dlon = lon[None, :] - lon[:, None]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))) * detour_factor
    seconds = np.ceil(km / speed_kmh * 3600 - 1e-6).astype(np.int64)
    metres = np.rint(km * 1000).astype(np.int64)
    return TravelMatrix(seconds=seconds, metres=metres)


Fetch = Callable[[str], Awaitable[Any]]
"""GET a URL and return its parsed JSON body; raise ``OSError`` when it cannot."""


class TravelServiceError(BrigadierError):
    code = "travel_service"


def urllib_fetch(timeout: float) -> Fetch:
    """A :data:`Fetch` on the standard library, run in a thread so the event loop keeps going."""

    def get(url: str) -> Any:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    async def fetch(url: str) -> Any:
        return await asyncio.to_thread(get, url)

    return fetch


class OsrmMatrix:
    """Road times from an OSRM-compatible ``/table`` service (OSRM, Valhalla's OSRM API...).

    One request per plan: ``GET {base}/table/v1/{profile}/{lon,lat;...}`` asking for
    durations (seconds) and distances (metres). Missing legs (``null``) become
    :data:`UNREACHABLE`.
    """

    def __init__(
        self, base_url: str, *, profile: str = "driving", fetch: Fetch | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._profile = profile
        self._fetch = fetch or urllib_fetch(timeout)

    def url(self, points: Sequence[Point]) -> str:
        coordinates = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        return (
            f"{self._base}/table/v1/{self._profile}/{coordinates}"
            "?annotations=duration,distance"
        )

    async def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        if len(points) < 2:
            zeros = np.zeros((len(points), len(points)), dtype=np.int64)
            return TravelMatrix(seconds=zeros, metres=zeros.copy())
        try:
            body = await self._fetch(self.url(points))
        except (OSError, ValueError, urllib.error.URLError) as err:
            raise TravelServiceError("travel_service_failed", reason=str(err)) from err
        return parse_osrm_table(body, len(points))


def parse_osrm_table(body: Any, size: int) -> TravelMatrix:
    """OSRM's ``{"code": "Ok", "durations": [[...]], "distances": [[...]]}`` → a matrix."""
    if not isinstance(body, dict) or body.get("code") != "Ok":
        reason = body.get("message") or body.get("code") if isinstance(body, dict) else body
        raise TravelServiceError("travel_service_failed", reason=str(reason)[:200])
    seconds = _osrm_array(body.get("durations"), size, "durations")
    metres = (
        _osrm_array(body["distances"], size, "distances")
        if body.get("distances") is not None
        else np.full((size, size), UNREACHABLE, dtype=np.int64)
    )
    if body.get("distances") is None:
        metres[seconds < UNREACHABLE] = 0
    return TravelMatrix(seconds=seconds, metres=metres)


def _osrm_array(rows: Any, size: int, name: str) -> IntMatrix:
    try:
        values = np.asarray(
            [[math.nan if v is None else float(v) for v in row] for row in rows], dtype=float
        )
    except (TypeError, ValueError) as err:
        raise TravelServiceError("travel_service_failed", reason=f"bad {name}") from err
    if values.shape != (size, size):
        raise TravelServiceError(
            "travel_service_failed", reason=f"{name}: expected {size}×{size}, got {values.shape}"
        )
    result = np.where(np.isnan(values), UNREACHABLE, np.ceil(values - 1e-6))
    return np.minimum(result, UNREACHABLE).astype(np.int64)
