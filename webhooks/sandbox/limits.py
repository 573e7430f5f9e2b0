"""Telegram's sending limits as token buckets: about one message a second to one chat (short
bursts pass) and about thirty a second from one bot overall. Over them Telegram answers
429 "Too Many Requests: retry after N"; so does the sandbox, so senders are exercised for real.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxLimits:
    """How fast one bot may send; tests replace them through ``SandboxState.limits``."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    global_burst: int = 30
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

    def retry_after(self, limits: SandboxLimits, bot_id: int, chat_id: int, now: float) -> int:
        """0 and the send counted, or the whole seconds to wait (nothing counted)."""
        if not limits.enabled:
            return 0
        chat = self._bucket(self._chats, (bot_id, chat_id), limits.per_chat_burst, now)
        overall = self._bucket(self._bots, bot_id, limits.global_burst, now)
        chat.refill(limits.per_chat_per_second, limits.per_chat_burst, now)
        overall.refill(limits.global_per_second, limits.global_burst, now)
        wait = max(chat.wait(limits.per_chat_per_second), overall.wait(limits.global_per_second))
        if wait > 0:
            log.debug("bot %s over the limit in chat %s for %.2fs", bot_id, chat_id, wait)
            return max(1, math.ceil(wait))
        chat.tokens -= 1.0
        overall.tokens -= 1.0
        return 0

    @staticmethod
    def _bucket(buckets: dict[Any, _Bucket], key: Any, burst: int, now: float) -> _Bucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(float(burst), now)
        return bucket
