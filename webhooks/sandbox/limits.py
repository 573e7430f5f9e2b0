"""Telegram's sending limits as token buckets: about one message a second to one chat (short
bursts pass) and about thirty a second from one bot overall. Over them Telegram answers
429 "Too Many Requests: retry after N"; so does the sandbox, so senders are exercised for real.

A message sent with ``allow_paid_broadcast`` skips the free overall limit for up to 1,000 a
second (the per-chat limit still holds) and costs the bot 0.1 Star; the sandbox counts them.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

STARS_PER_PAID_MESSAGE = 0.1


@dataclass(frozen=True)
class SandboxLimits:
    """How fast one bot may send; tests replace them through ``SandboxState.limits``."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    global_burst: int = 30
    paid_per_second: float = 1000.0
    paid_burst: int = 1000
    enabled: bool = True

    @classmethod
    def off(cls) -> SandboxLimits:
        return cls(enabled=False)


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp

    def refill(self, rate: float, burst: int, now: float) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def wait(self, rate: float) -> float:
        """Seconds until one token is there; 0 when one is there now."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / rate


class SendLimiter:
    """Counts sends per (bot, chat) and per bot; refuses those over the limits."""

    def __init__(self) -> None:
        self._chats: dict[tuple[int, int], _Bucket] = {}
        self._bots: dict[int, _Bucket] = {}
        self._paid: dict[int, _Bucket] = {}
        self.paid_sent: Counter[int] = Counter()  # bot id → messages sent as paid broadcasts

    def retry_after(
        self, limits: SandboxLimits, bot_id: int, chat_id: int, now: float, *, paid: bool = False
    ) -> int:
        """0 and the send counted, or the whole seconds to wait (nothing counted)."""
        if not limits.enabled:
            self.paid_sent[bot_id] += paid
            return 0
        chat = self._bucket(self._chats, (bot_id, chat_id), limits.per_chat_burst, now)
        chat.refill(limits.per_chat_per_second, limits.per_chat_burst, now)
        if paid:
            rate, burst = limits.paid_per_second, limits.paid_burst
            overall = self._bucket(self._paid, bot_id, burst, now)
        else:
            rate, burst = limits.global_per_second, limits.global_burst
            overall = self._bucket(self._bots, bot_id, burst, now)
        overall.refill(rate, burst, now)
        wait = max(chat.wait(limits.per_chat_per_second), overall.wait(rate))
        if wait > 0:
            log.debug("bot %s over the limit in chat %s for %.2fs", bot_id, chat_id, wait)
            return max(1, math.ceil(wait))
        chat.tokens -= 1.0
        overall.tokens -= 1.0
        self.paid_sent[bot_id] += paid
        return 0

    def stars_spent(self, bot_id: int) -> float:
        """What the paid broadcasts accepted so far cost the bot."""
        return round(self.paid_sent[bot_id] * STARS_PER_PAID_MESSAGE, 1)

    @staticmethod
    def _bucket(buckets: dict[Any, _Bucket], key: Any, burst: int, now: float) -> _Bucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(float(burst), now)
        return bucket
