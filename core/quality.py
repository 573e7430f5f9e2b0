"""Quality: customers rate finished orders; a low rating opens a case for the quality team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.errors import Conflict, InvalidInput, NotFound, TransitionRefused
from core.events import record_event
from core.models import QualityCase, Rating
from core.orders import load_order
from core.workflows import Status

LOW_RATING = 3
"""A rating of this many stars or fewer opens a quality case."""
MAX_COMMENT = 2000
RATEABLE = frozenset({Status.COMPLETED, Status.CLOSED, Status.DELIVERED, Status.RETURNED})


@dataclass(frozen=True)
class RatingResult:
    rating_id: int
    order_id: int
    number: str
    stars: int
    case_id: int | None
    """The quality case the rating opened, if it was low."""


async def rate_order(
    db: Database,
    *,
    order_id: int,
    client_id: int,
    stars: int,
    now: datetime,
    comment: str = "",
) -> RatingResult:
    """Record the client's rating of their finished order, once; a low one opens a case."""
    if not 1 <= stars <= 5:
        raise InvalidInput("invalid_rating", field="stars", value=stars)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput("text_too_long", field="comment", value=len(comment), limit=MAX_COMMENT)
    try:
        async with db.transaction() as tx:
            order = await load_order(tx, order_id)
            if order.client_id != client_id:
                raise NotFound("not_found", entity="order", ref=order.number)
            if Status(order.status) not in RATEABLE:
                raise TransitionRefused("rating_too_early", number=order.number)
            if await tx.scalar(select(Rating.id).where(Rating.order_id == order_id)):
                raise Conflict("already_rated", number=order.number)
            rating = Rating(
                order_id=order_id, client_id=client_id, stars=stars, comment=comment, created_at=now
            )
            tx.add(rating)
            await tx.flush()
            case_id = None
            if stars <= LOW_RATING:
                case = QualityCase(order_id=order_id, rating_id=rating.id, note=comment,
                                   created_at=now)
                tx.add(case)
                await tx.flush()
                case_id = case.id
                record_event(
                    tx,
                    kind="quality.case_opened",
                    order_id=order_id,
                    payload={"case_id": case.id, "rating_id": rating.id, "stars": stars,
                             "client_id": client_id},
                )
            record_event(
                tx,
                kind="order.rated",
                order_id=order_id,
                payload={"rating_id": rating.id, "stars": stars, "client_id": client_id},
            )
            return RatingResult(rating.id, order_id, order.number, stars, case_id)
    except IntegrityError as err:
        # The same rating sent twice at once: the first one counts.
        raise Conflict("already_rated", number=str(order_id + 10000)) from err
