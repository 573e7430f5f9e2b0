"""Slot arithmetic: where a job fits into workers' days, for every worker at once (numpy).

A *row* is one working interval of one worker on one day, with the slice of that worker's
jobs around it. A *gap* is a stretch of starts between two neighbouring jobs (or a job and the
interval's edge) at which the worker can take a new job: there is time to drive from the
previous job, do the work, and drive on to the next one, all inside the working interval.
Times are UTC epoch minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from core.assignment import Candidate, score_array
from core.geo import Point
from core.shifts import epoch_minutes
from core.travel import TravelTimes

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
FAR = 10**12


@dataclass(frozen=True)
class Workload:
    """Eligible workers' working intervals and jobs over the days asked about.

    Jobs are sorted by worker, then start, so one worker-day's jobs are a slice
    ``[job_from, job_to)``; positions are NaN where unknown.
    """

    days: list[date]
    row_worker: IntArray
    row_day: IntArray  # index into ``days``
    row_start: IntArray
    row_end: IntArray
    row_zone: IntArray  # -1: any of the worker's zones
    row_job_from: IntArray
    row_job_to: IntArray
    row_rating: FloatArray
    row_preferred: BoolArray
    row_home_lat: FloatArray
    row_home_lon: FloatArray
    job_start: IntArray
    job_end: IntArray
    job_lat: FloatArray
    job_lon: FloatArray
    job_home_lat: FloatArray
    job_home_lon: FloatArray

    @property
    def empty(self) -> bool:
        return len(self.row_worker) == 0


@dataclass(frozen=True)
class Gaps:
    """Every gap of every row; starts in ``[first, last]`` fit ``worker`` with ``score``."""

    day: IntArray
    first: IntArray
    last: IntArray
    worker: IntArray
    score: FloatArray
    added_travel: IntArray
    jobs: IntArray
    rating: FloatArray
    preferred: BoolArray

    def candidate(self, i: int) -> Candidate:
        return Candidate(
            int(self.worker[i]),
            int(self.added_travel[i]),
            int(self.jobs[i]),
            float(self.rating[i]),
            bool(self.preferred[i]),
        )

    def ranking(self) -> IntArray:
        """Gap indexes, best first (lowest score, then lowest worker id)."""
        return np.lexsort((self.worker, self.score)).astype(np.int64)


def find_gaps(
    workload: Workload,
    *,
    duration: int,
    point: Point,
    zone_ids: tuple[int, ...],
    travel: TravelTimes,
) -> Gaps:
    w = workload
    usable = (w.row_zone == -1) | np.isin(w.row_zone, np.asarray(zone_ids, dtype=np.int64))
    rows = np.flatnonzero(usable)
    jobs_n = len(w.job_start)
    # Travel legs, each computed once for the whole query.
    to_place = np.asarray(travel.pairwise(w.job_lat, w.job_lon, [point.lat], [point.lon]))
    from_place = np.asarray(travel.pairwise([point.lat], [point.lon], w.job_lat, w.job_lon))
    to_next = np.zeros(jobs_n, dtype=np.int64)
    if jobs_n > 1:
        to_next[:-1] = travel.pairwise(w.job_lat[:-1], w.job_lon[:-1], w.job_lat[1:], w.job_lon[1:])
    job_to_home = np.asarray(travel.pairwise(w.job_lat, w.job_lon, w.job_home_lat, w.job_home_lon))
    home_to_job = np.asarray(travel.pairwise(w.job_home_lat, w.job_home_lon, w.job_lat, w.job_lon))
    home_in = np.asarray(
        travel.pairwise(w.row_home_lat[rows], w.row_home_lon[rows], [point.lat], [point.lon]),
        dtype=np.int64,
    )
    home_out = np.asarray(
        travel.pairwise([point.lat], [point.lon], w.row_home_lat[rows], w.row_home_lon[rows]),
        dtype=np.int64,
    )
    if jobs_n == 0:  # keep the index arithmetic below valid
        to_place = from_place = job_to_home = home_to_job = np.zeros(1, dtype=np.int64)
        to_next = np.zeros(1, dtype=np.int64)
        job_start = job_end = np.zeros(1, dtype=np.int64)
    else:
        job_start, job_end = w.job_start, w.job_end

    # One candidate gap per neighbour pair: before each job of the slice, and after the last.
    job_from, job_to = w.row_job_from[rows], w.row_job_to[rows]
    counts = job_to - job_from + 1
    local = np.repeat(np.arange(len(rows)), counts)
    position = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    job = job_from[local] + position
    has_prev = position > 0
    has_next = job < job_to[local]
    prev = np.where(has_prev, job - 1, 0)
    nxt = np.where(has_next, job, 0)
    row = rows[local]

    lo = np.where(has_prev, job_end[prev] + to_place[prev], -FAR)
    hi = np.where(has_next, job_start[nxt] - from_place[nxt] - duration, FAR)
    first = np.maximum(lo, w.row_start[row])
    last = np.minimum(hi, w.row_end[row] - duration)
    fits = first <= last

    before = np.where(has_prev, to_place[prev], home_in[local])
    after = np.where(has_next, from_place[nxt], home_out[local])
    direct = np.where(
        has_prev & has_next,
        to_next[prev],
        np.where(has_prev, job_to_home[prev], np.where(has_next, home_to_job[nxt], 0)),
    )
    added = np.maximum(0, before + after - direct)
    jobs_that_day = (job_to - job_from)[local]
    rating = w.row_rating[row]
    preferred = w.row_preferred[row]
    scores = score_array(added, jobs_that_day, rating, preferred)
    return Gaps(
        day=w.row_day[row][fits],
        first=first[fits],
        last=last[fits],
        worker=w.row_worker[row][fits],
        score=scores[fits],
        added_travel=added[fits],
        jobs=jobs_that_day[fits],
        rating=rating[fits],
        preferred=preferred[fits],
    )


def grid(day: date, tz: ZoneInfo, step: int, not_before: int) -> IntArray:
    """Starts on the company's local grid (every ``step`` minutes from midnight) on ``day``."""
    midnight = epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=tz))
    next_midnight = epoch_minutes(
        datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    )
    starts = np.arange(midnight, next_midnight, step, dtype=np.int64)
    return starts[starts >= not_before]


def best_per_start(gaps: Gaps, day_index: int, starts: IntArray) -> list[tuple[int, int]]:
    """(start, gap index) for each start someone can take: the best-ranked gap covering it."""
    on_day = np.flatnonzero(gaps.day == day_index)
    if len(on_day) == 0 or len(starts) == 0:
        return []
    order = on_day[np.lexsort((gaps.worker[on_day], gaps.score[on_day]))]
    covers = (gaps.first[order][:, None] <= starts[None, :]) & (
        starts[None, :] <= gaps.last[order][:, None]
    )
    taken = covers.any(axis=0)
    best = covers.argmax(axis=0)  # the first covering gap in rank order
    return [(int(starts[i]), int(order[best[i]])) for i in np.flatnonzero(taken)]
