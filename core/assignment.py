"""How a worker is chosen among those free for a job: one documented score, lower is better.

    score = added_travel_minutes
            + LOAD_WEIGHT × jobs the worker already has that day
            − RATING_WEIGHT × rating (0–5 stars)
            − PREFERRED_BONUS if the client prefers this worker

*Added travel* is the detour the job adds to the worker's day: the drive from the previous
stop to the job plus from the job to the next stop, minus the drive the worker would have made
between those two stops anyway (the home point stands in for a missing neighbour). So a
preferred worker wins unless choosing them costs over two hours more driving; one more job
that day weighs like twenty minutes of driving; a star of rating like ten.
Clients' blocked workers never get here: they are not eligible at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LOAD_WEIGHT = 20.0
RATING_WEIGHT = 10.0
PREFERRED_BONUS = 120.0


@dataclass(frozen=True, slots=True)
class Candidate:
    worker_id: int
    added_travel: int
    jobs_that_day: int
    rating: float
    preferred: bool


def score(candidate: Candidate) -> float:
    return (
        candidate.added_travel
        + LOAD_WEIGHT * candidate.jobs_that_day
        - RATING_WEIGHT * candidate.rating
        - (PREFERRED_BONUS if candidate.preferred else 0.0)
    )


def explain(candidate: Candidate) -> str:
    """Why this worker: the score's parts, as an operator reads them."""
    parts = []
    if candidate.preferred:
        parts.append("preferred by the client")
    parts.append(f"+{candidate.added_travel} min travel")
    parts.append(f"{candidate.jobs_that_day} other jobs that day")
    parts.append(f"rating {candidate.rating:.1f}")
    return f"{'; '.join(parts)} (score {score(candidate):.0f})"


def score_array(
    added_travel: npt.NDArray[np.int64],
    jobs_that_day: npt.NDArray[np.int64],
    rating: npt.NDArray[np.float64],
    preferred: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """:func:`score` for many candidates at once."""
    return (
        added_travel
        + LOAD_WEIGHT * jobs_that_day
        - RATING_WEIGHT * rating
        - np.where(preferred, PREFERRED_BONUS, 0.0)
    )
