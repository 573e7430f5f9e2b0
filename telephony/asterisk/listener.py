"""An asyncio client of the Asterisk Manager Interface: log in, follow calls, reconnect.

AMI is text over TCP: a banner line (``Asterisk Call Manager/5.0.x``), then messages of
``Key: Value`` lines ending in CRLF, each message ended by an empty line. When the connection
drops or the login is refused, the listener waits and tries again, doubling the wait up to a
limit; a successful login resets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from core.config import TelephonySettings
from telephony.asterisk.auth import login_accepted, login_action
from telephony.asterisk.parse import CallTracker
from telephony.base import PbxContext, SerialRecorder

log = logging.getLogger(__name__)

BANNER = "Asterisk Call Manager"
READ_LIMIT = 64 * 1024
CONNECT_TIMEOUT_SECONDS = 10.0


class LoginRefused(Exception):
    pass


def enabled(settings: TelephonySettings) -> bool:
    return settings.ami_enabled


@contextlib.asynccontextmanager
async def running(
    context: PbxContext, *, first_wait: float = 1.0, longest_wait: float = 30.0
) -> AsyncIterator[AmiListener]:
    listener = AmiListener(context, first_wait=first_wait, longest_wait=longest_wait)
    listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


def encode(message: Mapping[str, str]) -> bytes:
    lines = [f"{key}: {value}" for key, value in message.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_message(reader: asyncio.StreamReader) -> dict[str, str]:
    """One AMI message; raises ``ConnectionError`` when the connection ends."""
    message: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("AMI closed the connection")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if message:
                return message
            continue
        key, sep, value = line.partition(":")
        if sep:
            message[key.strip()] = value.strip()


class AmiListener:
    def __init__(self, context: PbxContext, *, first_wait: float, longest_wait: float) -> None:
        self._context = context
        self._settings = context.config.telephony
        self._login = login_action(context.config)
        self._first_wait = first_wait
        self._longest_wait = longest_wait
        self._recorder = SerialRecorder(context)
        self._task: asyncio.Task[None] | None = None
        self.logged_in = asyncio.Event()
        self.sessions = 0

    def start(self) -> None:
        self._recorder.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._recorder.stop()

    async def _run(self) -> None:
        wait = self._first_wait
        while True:
            try:
                await self._session()
            except LoginRefused:
                log.error("AMI refused the login of %s", self._settings.ami_username)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError) as err:
                log.warning("AMI connection to %s:%s lost: %s", self._settings.ami_host,
                            self._settings.ami_port, err)
            if self.logged_in.is_set():
                wait = self._first_wait
            self.logged_in.clear()
            await asyncio.sleep(wait)
            wait = min(wait * 2, self._longest_wait)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self._settings.ami_host, self._settings.ami_port, limit=READ_LIMIT
            ),
            CONNECT_TIMEOUT_SECONDS,
        )
        try:
            banner = (await reader.readline()).decode("utf-8", errors="replace").strip()
            if not banner.startswith(BANNER):
                raise ConnectionError(f"not an AMI server: {banner[:60]!r}")
            writer.write(encode(self._login))
            await writer.drain()
            await self._await_login(reader)
            self.sessions += 1
            self.logged_in.set()
            log.info("AMI: logged in to %s:%s", self._settings.ami_host, self._settings.ami_port)
            tracker = CallTracker()
            while True:
                message = await read_message(reader)
                event = tracker.feed(message, now=self._context.clock.now())
                if event is not None:
                    self._recorder.put(event)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _await_login(self, reader: asyncio.StreamReader) -> None:
        while True:
            accepted = login_accepted(await read_message(reader))
            if accepted is True:
                return
            if accepted is False:
                raise LoginRefused()


