"""The ``brigadier`` console script, run for real as a separate process."""

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

BRIGADIER = Path(sys.executable).parent / "brigadier"
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
KYIV = ZoneInfo("Europe/Kyiv")
CENTRE = "50.45,30.52"
DEMO_CLEANING = "cleaning_standard"
SUBCOMMANDS = ("run", "migrate", "seed-demo", "slots", "book", "parse-when")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of the repository's config.toml."""
    folder = tmp_path_factory.mktemp("cli")
    shutil.copy(REPO_CONFIG, folder / "config.toml")
    return folder


def brigadier(
    home: Path, *args: str, db: str = "b.db", env: dict[str, str] | None = None,
    config: bool = True, timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIGADIER")}
    environ["BRIGADIER__DATABASE__URL"] = f"sqlite+aiosqlite:///{home / db}"
    environ["BRIGADIER_SECRETS_FILE"] = str(home / "no-secrets.toml")
    environ.update(env or {})
    command = [str(BRIGADIER), *args]
    if config and args and not args[0].startswith("-"):
        command += ["--config", str(home / "config.toml")]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=environ, cwd=home)


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Non-zero exit, exactly one line on stderr naming ``fragments``, no traceback anywhere."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def demo(home: Path) -> str:
    """A migrated database file holding the demo company; returns its name."""
    migrated = brigadier(home, "migrate", db="demo.db")
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision" in migrated.stdout
    seeded = brigadier(home, "seed-demo", db="demo.db")
    assert seeded.returncode == 0, seeded.stderr
    assert "demo company created" in seeded.stdout
    return "demo.db"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_explains_itself(home, command):
    result = brigadier(home, command, "--help", config=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: brigadier {command}")
    assert "--config" in result.stdout
    assert result.stderr == ""


def test_the_command_lists_its_subcommands(home):
    result = brigadier(home, "--help", config=False)
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["slots", "--service", "x", "--at", "1"], "--at"),
        (["slots", "--service", "cleaning", "--at", CENTRE, "--from", "2026-13-01"],
         "2026-13-01"),
        (["book", "--service", "cleaning", "--at", CENTRE, "--phone", "0671234567",
          "--start", "2026-12-01T10:00"], "2026-12-01T10:00+02:00"),
        (["slots", "--service", "cleaning"], "--at"),
        (["book", "--service", "cleaning", "--at", CENTRE, "--address-id", "3",
          "--phone", "0671234567", "--start", "2026-12-01T10:00+02:00"], "not allowed"),
        (["parse-when", "tomorrow", "--lang", "de"], "--lang"),
        (["frobnicate"], "frobnicate"),
        ([], "command"),
    ],
    ids=["point", "date", "start-without-offset", "no-place", "two-places", "language",
         "unknown-subcommand", "no-subcommand"],
)
def test_malformed_arguments_are_refused_in_one_line(home, args, named):
    result = brigadier(home, *args)
    line = assert_refused(result, named)
    assert result.returncode == 2
    assert "usage:" not in line


def test_a_missing_config_file_is_named(home):
    for args in (["--config", "/nonexistent.toml", "migrate"],
                 ["migrate", "--config", "/nonexistent.toml"]):
        result = brigadier(home, *args, config=False)
        assert_refused(result, "/nonexistent.toml", "not found")
        assert result.returncode == 1


def test_a_bad_setting_in_the_environment_names_the_key(home):
    result = brigadier(home, "migrate", env={"BRIGADIER__HTTP__PORT": "abc"}, db="never.db")
    assert_refused(result, "http.port", "'abc'", str(home / "config.toml"))
    assert not (home / "never.db").exists()


def test_seeding_an_unmigrated_database_says_to_migrate(home):
    result = brigadier(home, "seed-demo", db="unmigrated-seed.db")
    assert_refused(result, "brigadier migrate")


def test_running_on_an_unmigrated_database_stops_and_says_to_migrate(home):
    result = brigadier(home, "run", db="unmigrated-run.db", timeout=30)
    assert_refused(result, "brigadier migrate")


def test_slots_on_an_unmigrated_database_say_to_migrate(home):
    result = brigadier(home, "slots", "--service", DEMO_CLEANING, "--at", CENTRE,
                       db="unmigrated-slots.db")
    assert_refused(result, "brigadier migrate")


@pytest.mark.parametrize("command", ["migrate", "seed-demo", "run"])
def test_a_file_that_is_not_a_database_is_refused_in_one_line(home, command):
    (home / "garbage.db").write_bytes(b"this is not an SQLite database, just some text\n" * 200)
    result = brigadier(home, command, db="garbage.db", timeout=30)
    assert_refused(result, "not a database")


def test_migrating_twice_is_harmless(home):
    first = brigadier(home, "migrate", db="twice.db")
    second = brigadier(home, "migrate", db="twice.db")
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout == second.stdout


def test_seeding_the_demo_again_changes_nothing(home, demo):
    again = brigadier(home, "seed-demo", db=demo)
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout


def test_an_unknown_service_is_refused_in_one_line(home, demo):
    result = brigadier(home, "slots", "--service", "no-such-service", "--at", CENTRE, db=demo)
    assert_refused(result, "no-such-service")


def test_booking_with_an_invalid_phone_is_refused_naming_it(home, demo):
    result = brigadier(home, "book", "--service", DEMO_CLEANING, "--at", CENTRE,
                       "--phone", "hello", "--start", "2026-12-01T10:00+02:00", db=demo)
    assert_refused(result, "“hello”", "not a valid phone number")


def free_slots(home: Path, db: str) -> list[dict[str, object]]:
    result = brigadier(home, "slots", "--service", DEMO_CLEANING, "--at", CENTRE, "--json",
                       db=db)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    slots = json.loads(result.stdout)
    assert isinstance(slots, list)
    return slots


def test_demo_slots_are_printed_as_json_in_kyiv_time(home, demo):
    slots = free_slots(home, demo)
    assert slots, "the demo company has free time in the next week"
    now = datetime.now(KYIV)
    for slot in slots:
        assert set(slot) == {"start", "end", "worker_id"}
        start = datetime.fromisoformat(str(slot["start"]))
        end = datetime.fromisoformat(str(slot["end"]))
        # The company's local time: +02:00 in winter, +03:00 in summer.
        assert start.utcoffset() == start.astimezone(KYIV).utcoffset()
        assert start > now and end > start
        assert isinstance(slot["worker_id"], int)
    starts = [datetime.fromisoformat(str(s["start"])) for s in slots]
    assert starts == sorted(starts)


def test_booking_a_free_demo_slot_prints_the_assigned_order(home, demo):
    first = free_slots(home, demo)[0]
    result = brigadier(home, "book", "--service", DEMO_CLEANING, "--at", CENTRE,
                       "--start", str(first["start"]), "--phone", "+380 67 000 11 22",
                       "--name", "Taras", "--comment", "ring twice", db=demo)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    order = json.loads(result.stdout)
    assert order["status"] == "assigned"
    assert order["starts_at"] == first["start"]
    assert order["channel"] == "cli"
    assert order["customer_comment"] == "ring twice"
    assert [line["service"] for line in order["lines"]] == [DEMO_CLEANING]
    assert isinstance(order["worker_id"], int)
    taken = {(s["start"], s["worker_id"]) for s in free_slots(home, demo)}
    assert (first["start"], order["worker_id"]) not in taken


def test_parse_when_prints_the_window_in_the_offset_of_now(home):
    result = brigadier(home, "parse-when", "у п'ятницю після обіду",
                       "--now", "2026-11-24T14:05+02:00", "--lang", "uk")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "start": "2026-11-27T12:00:00+02:00", "end": "2026-11-27T17:00:00+02:00"}


def test_parse_when_prints_null_for_text_that_names_no_time(home):
    result = brigadier(home, "parse-when", "сколько стоит?", "--now", "2026-11-24T14:05+02:00")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) is None


@pytest.mark.parametrize("args", [
    ("parse-when", "завтра", "--now", "yesterday"),
    ("parse-when", "завтра", "--now", "2026-11-24T14:05"),
    ("parse-when", "завтра", "--lang", "de"),
])
def test_parse_when_refuses_a_bad_now_or_language_in_one_line(home, args):
    assert_refused(brigadier(home, *args))
