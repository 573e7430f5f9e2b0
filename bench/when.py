"""Benchmark core.when.parse_when against plain dateparser on the phrases of the test data.

Run from the repository root: ``python bench/when.py [--rounds N]``. It prints:

- what ``import core.when`` adds to start-up, in a fresh interpreter (the time of
  ``python -c "import core.when"`` minus that of ``python -c "pass"``, best of 15 runs each),
  and what ``python -X importtime`` says the import takes;
- median and p95 microseconds per phrase for ``parse_when`` and for a plain
  ``dateparser.parse(text, settings={"RELATIVE_BASE": now, "PREFER_DATES_FROM": "future"})``
  on the same phrases in the same run, after a warm-up, and the ratio of the medians;
- the accuracy of each on the expected windows of tests/core/data/when_cases.toml.

Accuracy. ``parse_when`` is right when its window equals the expected one (start and end), or
it gives None where None is expected. ``dateparser.parse`` gives one naive datetime, read as
wall-clock time in the zone of ``now``; it is right, strictly, when that datetime equals the
expected start (for an exact moment and for a window alike) or it gives None where None is
expected; leniently, a datetime inside an expected window ``start <= d < end`` counts too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "core" / "data" / "when_cases.toml"


@dataclass(frozen=True)
class Case:
    text: str
    lang: str | None
    now: datetime
    start: datetime | None
    end: datetime | None


def load_cases() -> list[Case]:
    data: dict[str, Any] = tomllib.loads(DATA.read_text(encoding="utf-8"))
    zone = ZoneInfo(data["zone"])
    cases = []
    for raw in data["case"]:
        now = datetime.fromisoformat(raw.get("now", data["now"]))
        now = now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)
        start = datetime.fromisoformat(raw["start"]) if "start" in raw else None
        end = datetime.fromisoformat(raw["end"]) if "end" in raw else None
        cases.append(Case(raw["text"], raw.get("lang"), now, start, end))
    return cases


def _run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - started


def import_time(runs: int = 15) -> tuple[float, float, float]:
    """What ``import core.when`` costs a fresh interpreter, in milliseconds.

    (wall-clock start-up with the import minus without it, best of ``runs`` each, interleaved;
    the cumulative time ``python -X importtime`` reports for ``core`` and ``core.when``;
    the interpreter's own start-up).
    """
    baseline, total = [], []
    for _ in range(runs):
        baseline.append(_run("pass"))
        total.append(_run("import core.when"))
    report = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import core.when"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    cumulative = 0
    for line in report.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] in ("core", "core.when"):
            cumulative += int(parts[1])
    return (min(total) - min(baseline)) * 1000, cumulative / 1000, min(baseline) * 1000


def timings(cases: list[Case], call: Callable[[Case], object], rounds: int) -> tuple[float, float]:
    """(median, p95) microseconds per call, over every call of every round."""
    samples: list[float] = []
    for _ in range(rounds):
        for case in cases:
            started = time.perf_counter_ns()
            call(case)
            samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the phrases")
    args = parser.parse_args()

    added, cumulative, baseline = import_time()
    print(f"import core.when adds to start-up:   {added:8.1f} ms   (target < 300 ms)")
    print(f"import core.when, -X importtime:     {cumulative:8.1f} ms   (core and core.when)")
    print(f"interpreter start-up alone:          {baseline:8.1f} ms")

    import dateparser

    from core.when import parse_when

    cases = load_cases()
    settings = {
        case: {"RELATIVE_BASE": case.now.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
        for case in cases
    }

    def ours(case: Case) -> object:
        return parse_when(case.text, case.now, None if case.lang is None else [case.lang])

    def plain(case: Case) -> object:
        return dateparser.parse(case.text, settings=settings[case])

    print(f"phrases: {len(cases)} from {DATA.relative_to(ROOT)}, {args.rounds} timed rounds")
    for case in cases:  # warm-up: dateparser loads its language data on first use
        ours(case)
        plain(case)

    our_median, our_p95 = timings(cases, ours, args.rounds)
    plain_median, plain_p95 = timings(cases, plain, args.rounds)
    print(f"parse_when:        median {our_median:9.1f} us   p95 {our_p95:9.1f} us")
    print(f"dateparser.parse:  median {plain_median:9.1f} us   p95 {plain_p95:9.1f} us")
    print(
        f"ratio of medians parse_when / dateparser.parse: {our_median / plain_median:.3f}"
        "   (target <= 1.5)"
    )

    our_right = plain_strict = plain_lenient = 0
    for case in cases:
        # Compared in UTC: Python never finds an aware datetime in a repeated (DST) hour equal
        # to one with another tzinfo.
        window = parse_when(case.text, case.now, None if case.lang is None else [case.lang])
        expected = None
        if case.start is not None and case.end is not None:
            expected = (_utc(case.start), _utc(case.end))
        got = None if window is None else (_utc(window.start), _utc(window.end))
        our_right += got == expected

        found = plain(case)
        if case.start is None or case.end is None:
            plain_strict += found is None
            plain_lenient += found is None
            continue
        if not isinstance(found, datetime):
            continue
        moment = _utc(found.replace(tzinfo=case.now.tzinfo))
        start, end = _utc(case.start), _utc(case.end)
        plain_strict += moment == start
        plain_lenient += moment == start or start <= moment < end

    total = len(cases)
    print(f"accuracy parse_when:                  {our_right:4d}/{total} = {our_right / total:.1%}")
    print(
        f"accuracy dateparser.parse (strict):   {plain_strict:4d}/{total} "
        f"= {plain_strict / total:.1%}   (datetime == expected start, or None == None)"
    )
    print(
        f"accuracy dateparser.parse (lenient):  {plain_lenient:4d}/{total} "
        f"= {plain_lenient / total:.1%}   (also: start <= datetime < end of a window)"
    )


if __name__ == "__main__":
    main()
