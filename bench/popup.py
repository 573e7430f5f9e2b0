"""Call popup latency across two server processes, on SQLite and on PostgreSQL.

Two real ``brigadier run`` processes serve one database. Ten operators (extensions 201–210)
log in, five on each process, and hold the panel's websocket open. Then 50 calls ring at once:
50 Binotel ``receivedTheCall`` requests, sent alternately to the two processes, each ringing one
operator's extension from its own number (half of them known clients). Three calls in five ring
an operator connected to the process that took the PBX request, the others one connected to the
other process. A call's latency runs from just before its PBX request is sent to the moment its
popup frame arrives on the right operator's websocket. Prints median and p95 ms per engine
(goal: p95 < 100 ms), and the CPU time both servers spent per call beyond what they spend
idle (on Linux), which a busy machine disturbs far less than the latencies.

    python bench/popup.py [--rounds 10] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from core.cards import create_client
from core.db import Database, create_engine
from core.migrate import upgrade
from core.models import Role
from core.phones import display_phone
from core.staff import create_user

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "BRIGADIER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BRIGADIER = Path(sys.executable).parent / "brigadier"
OPERATORS = 10
CALLS = 50
PASSWORD = "bench password 1"
BINOTEL_SECRET = "bench-binotel-secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CALLER = re.compile(r"Call from ([^<]+)</strong>")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def prepare(url: str) -> None:
    """Schema, ten operators and 25 known clients."""
    db = Database(create_engine(url))
    try:
        await upgrade(db)
        for n in range(OPERATORS):
            await create_user(
                db, login=f"op{n}", name=f"Operator {n}", role=Role.OPERATOR,
                password=PASSWORD, extension=str(201 + n), language="en",
            )
        for n in range(CALLS // 2):
            await create_client(
                db, phone=f"+38067{n:07d}", region="UA", name=f"Client {n}", language="uk",
                address=f"Street {n}",
            )
    finally:
        await db.dispose()


@asynccontextmanager
async def servers(url: str, folder: Path) -> AsyncIterator[tuple[list[str], list[int]]]:
    """Two ``brigadier run`` processes on the database; yields their base URLs and ids."""
    processes: list[asyncio.subprocess.Process] = []
    bases = []
    try:
        for n in range(2):
            port = free_port()
            environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIGADIER")}
            environ.update({
                "BRIGADIER__DATABASE__URL": url,
                "BRIGADIER__HTTP__PORT": str(port),
                "BRIGADIER__SECRETS__SESSION_SECRET": "bench session secret",
                "BRIGADIER__SECRETS__BINOTEL_SECRET": BINOTEL_SECRET,
                "BRIGADIER_SECRETS_FILE": str(folder / "no-secrets.toml"),
            })
            with (folder / f"server-{n}.log").open("wb") as log:
                processes.append(await asyncio.create_subprocess_exec(
                    str(BRIGADIER), "run", "--config", str(ROOT / "config.toml"),
                    env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                ))
            bases.append(f"http://127.0.0.1:{port}")
        await wait_healthy(bases, processes, folder)
        yield bases, [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


async def wait_healthy(bases: list[str], processes: list[asyncio.subprocess.Process],
                       folder: Path) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        for base, process in zip(bases, processes, strict=True):
            while True:
                if process.returncode is not None:
                    log = (folder / f"server-{processes.index(process)}.log").read_text()
                    raise SystemExit(f"server exited:\n{log[-2000:]}")
                try:
                    async with http.get(f"{base}/healthz") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{base} did not come up")
                await asyncio.sleep(0.1)


def cpu_seconds(pids: list[int]) -> float | None:
    """User and system CPU time the processes have used so far; None off Linux."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime and stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The servers' CPU time spent on calls: what they used, less what they use anyway
    (the bots' outbox sender, the live hub's polls), measured while idle beforehand."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.idle_rate: float | None = None
        self._start: tuple[float | None, float] = (None, 0.0)

    async def measure_idle(self, seconds: float = 3.0) -> None:
        before, started = cpu_seconds(self.pids), time.perf_counter()
        await asyncio.sleep(seconds)
        after = cpu_seconds(self.pids)
        if before is not None and after is not None:
            self.idle_rate = (after - before) / (time.perf_counter() - started)

    def start(self) -> None:
        self._start = (cpu_seconds(self.pids), time.perf_counter())

    def stop(self) -> float | None:
        before, started = self._start
        after = cpu_seconds(self.pids)
        if before is None or after is None or self.idle_rate is None:
            return None
        return after - before - self.idle_rate * (time.perf_counter() - started)


class Operator:
    def __init__(self, number: int, base: str) -> None:
        self.number = number
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.arrived: dict[str, float] = {}
        self.reader: asyncio.Task[None] | None = None

    async def login(self) -> None:
        async with self.http.get(f"{self.base}/panel/login") as page:
            found = CSRF.search(await page.text())
            assert found, "no CSRF token on the login page"
        form = {"login": f"op{self.number}", "password": PASSWORD, "csrf_token": found.group(1)}
        async with self.http.post(f"{self.base}/panel/login", data=form) as answer:
            assert "Hello" in await answer.text(), "login failed"
        self.socket = await self.http.ws_connect(f"{self.base}/panel/ws")
        hello = json.loads((await self.socket.receive(timeout=5)).data)
        assert hello["type"] == "hello"
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            moment = time.perf_counter()
            frame = json.loads(message.data)
            if frame["type"] == "popup":
                found = CALLER.search(frame["html"])
                if found:
                    self.arrived[found.group(1).strip()] = moment

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        if self.socket:
            await self.socket.close()
        await self.http.close()


async def one_round(
    bases: list[str], cpu: CpuMeter, operators: list[Operator], round_no: int, *,
    together: bool = True,
) -> tuple[list[float], list[float], float | None]:
    """Latencies to the popup and to the PBX's answer (ms), and the servers' CPU seconds."""
    calls = []
    clients = iter(range(CALLS // 2))
    for n in range(CALLS):
        known = n % 4 in (0, 3)  # half the calls, as many on each process
        number = f"+38067{next(clients):07d}" if known else f"+38050{round_no:03d}{n:04d}"
        calls.append((n, number, str(201 + n % OPERATORS)))
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    cpu.start()
    async with aiohttp.ClientSession() as pbx:

        async def call(n: int, number: str, extension: str) -> None:
            url = f"{bases[n % 2]}/pbx/binotel/{BINOTEL_SECRET}"
            form = {
                "requestType": "receivedTheCall", "generalCallID": f"r{round_no}-{n}",
                "externalNumber": number, "internalNumber": extension, "callType": "0",
            }
            sent[number] = time.perf_counter()
            async with pbx.post(url, data=form) as answer:
                assert answer.status == 200, await answer.text()
            answered[number] = time.perf_counter()

        if together:
            await asyncio.gather(*(call(*c) for c in calls))
        else:
            for c in calls:
                await call(*c)
                await asyncio.sleep(0.02)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(display_phone(number) in operators[n % OPERATORS].arrived
                   for n, number, _ in calls):
                break
            await asyncio.sleep(0.01)
    used = cpu.stop()
    latencies = []
    for n, number, _ in calls:
        arrived = operators[n % OPERATORS].arrived.get(display_phone(number))
        if arrived is None:
            raise SystemExit(f"call {n} from {number} never popped up")
        latencies.append((arrived - sent[number]) * 1000)
    requests = [(answered[number] - sent[number]) * 1000 for _, number, _ in calls]
    return latencies, requests, used


Figures = tuple[list[float], list[float], float | None, list[float], list[float], float | None]


async def measure(url: str, folder: Path, rounds: int) -> Figures:
    await prepare(url)
    async with servers(url, folder) as (bases, pids):
        meter = CpuMeter(pids)
        # Operators 201–205 on the first process, 206–210 on the second.
        operators = [Operator(n, bases[n * 2 // OPERATORS]) for n in range(OPERATORS)]
        try:
            for operator in operators:
                await operator.login()
            await one_round(bases, meter, operators, 0)  # warm-up: caches, connection pools
            await meter.measure_idle()
            latencies: list[float] = []
            requests: list[float] = []
            cpu: float | None = 0.0
            for round_no in range(1, rounds + 1):
                popped, answered, used = await one_round(bases, meter, operators, round_no)
                latencies += popped
                requests += answered
                cpu = None if cpu is None or used is None else cpu + used
                await asyncio.sleep(0.2)
            alone = await one_round(bases, meter, operators, rounds + 1, together=False)
            return latencies, requests, cpu, *alone
        finally:
            for operator in operators:
                await operator.close()


def report(engine: str, figures: Figures) -> None:
    popped, requests, cpu, popped_alone, requests_alone, cpu_alone = figures
    print(f"  {engine}, 50 calls at once:")
    print(f"    PBX request sent → popup received   {_figures(popped)}   (goal p95 < 100 ms)")
    print(f"    PBX request sent → PBX answered     {_figures(requests)}")
    print(f"    servers' CPU per call, net of idle  {_cpu(cpu, len(popped))}")
    print(f"  {engine}, the same 50 calls one at a time:")
    print(f"    PBX request sent → popup received   {_figures(popped_alone)}")
    print(f"    PBX request sent → PBX answered     {_figures(requests_alone)}")
    print(f"    servers' CPU per call, net of idle  {_cpu(cpu_alone, len(popped_alone))}")


def _cpu(seconds: float | None, calls: int) -> str:
    return "unknown (no /proc)" if seconds is None else f"{seconds * 1000 / calls:6.2f} ms"


def _figures(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (f"calls {len(ordered):4d}   median {statistics.median(ordered):6.1f} ms"
            f"   p95 {p95:6.1f} ms   max {ordered[-1]:6.1f} ms")


async def run_sqlite(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        report("sqlite", await measure(url, Path(folder), rounds))


async def run_postgresql(rounds: int) -> None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        print(f"  postgresql: skipped, server unreachable ({err})")
        return
    name = f"brigadier_bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory() as folder:
            report("postgresql", await measure(url, Path(folder), rounds))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"{CALLS} calls at once, {OPERATORS} operators over 2 server processes, "
          f"{args.rounds} rounds after a warm-up; PBX request sent → popup frame received")
    engines = args.engines.split(",")
    if "sqlite" in engines:
        await run_sqlite(args.rounds)
    if "postgresql" in engines:
        await run_postgresql(args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
