"""The ``brigadier`` command: run the service, migrate, seed the demo, find and book slots.

Every subcommand takes ``--config PATH`` and refuses bad input with one line on stderr and a
non-zero exit status; the unexpected is logged, never shown as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from core.config import Config, load_config
from core.db import Database
from core.errors import BrigadierError, SlotTaken
from core.models import Role

log = logging.getLogger("brigadier")

EXIT_USAGE = 2
EXIT_REFUSED = 1


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we print the error alone, on one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from err


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from err
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the UTC offset, e.g. {text}+02:00")
    return moment


def _point(text: str) -> Any:
    from core.geo import Point

    try:
        return Point.parse(text)
    except BrigadierError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def build_parser() -> OneLineParser:
    config_help = "settings file (default: config.toml)"
    common = OneLineParser(add_help=False)
    # SUPPRESS: a subcommand without --config keeps the one given before the subcommand.
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=config_help)
    parser = OneLineParser(prog="brigadier", description="Run a home-service company.")
    parser.add_argument("--config", metavar="PATH", help=config_help)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    commands.add_parser("run", parents=[common], help="serve HTTP, the bots and background work")
    commands.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    commands.add_parser(
        "seed-demo",
        parents=[common],
        help="create the demo company in Kyiv (does nothing when it exists)",
    )

    slots = commands.add_parser("slots", parents=[common], help="free starts for a service")
    _place_arguments(slots)
    slots.add_argument("--from", dest="first", type=_date, help="first day (default: today)")
    slots.add_argument("--to", dest="last", type=_date, help="last day (default: first + 6)")
    slots.add_argument("--phone", help="the client's phone (skips their blocked workers)")
    slots.add_argument("--json", action="store_true", help="print JSON")

    book = commands.add_parser("book", parents=[common], help="book a start for a client phone")
    _place_arguments(book)
    book.add_argument("--start", required=True, type=_moment, help="ISO 8601 start with offset")
    book.add_argument("--phone", required=True, help="the client's phone, in any usual format")
    book.add_argument("--name", default="", help="the client's name when they are new")
    book.add_argument("--address", dest="address_text", default="", help="address text")
    book.add_argument("--comment", default="")

    user = commands.add_parser(
        "create-user",
        parents=[common],
        help="add a panel user; the password is read from stdin or --password-file",
    )
    user.add_argument("login")
    user.add_argument("--role", required=True, choices=[role.value for role in Role])
    user.add_argument("--name", required=True, help="the name colleagues see")
    user.add_argument("--extension", help="the user's phone extension, for call popups")
    user.add_argument("--language", choices=("uk", "ru", "en"), help="the panel's language")
    user.add_argument("--password-file", metavar="PATH", help="read the password from this file")

    invite = commands.add_parser(
        "worker-invite", parents=[common],
        help="print a one-time link that binds a Telegram account to a worker",
    )
    invite.add_argument("worker", help="the worker's id, phone or exact name")
    invite.add_argument("--language", choices=("uk", "ru", "en"),
                        help="the worker's language (default: their Telegram's)")

    when = commands.add_parser(
        "parse-when", parents=[common], help="read a time written in words into a window"
    )
    when.add_argument("text")
    when.add_argument("--now", type=_moment, help="reference time (default: now)")
    when.add_argument("--lang", choices=("uk", "ru", "en"))
    return parser


def _place_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", required=True, help="service code or id")
    place = parser.add_mutually_exclusive_group(required=True)
    place.add_argument("--at", type=_point, metavar="LAT,LON", help="the place as coordinates")
    place.add_argument("--address-id", type=_positive, help="a saved address")
    parser.add_argument("--quantity", type=_positive, default=1, help="units (m², items...)")


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


async def _with_db(
    config: Config, work: Callable[[Database], Awaitable[int]], *, migrated: bool = True
) -> int:
    """Run ``work`` on the configured database, refusing an unmigrated one unless told not to."""
    from core.migrate import check_migrated

    db = Database.from_settings(config.database, config.path.parent)
    try:
        if migrated:
            await check_migrated(db)
        return await work(db)
    finally:
        await db.dispose()


async def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    from core.migrate import head_revision, upgrade

    async def work(db: Database) -> int:
        await upgrade(db)
        print(f"database at revision {head_revision()}")
        return 0

    return await _with_db(config, work, migrated=False)


async def cmd_seed_demo(config: Config, args: argparse.Namespace) -> int:
    from core.demo import seed_demo

    async def work(db: Database) -> int:
        created = await seed_demo(
            db,
            tz=config.company.tz,
            region=config.company.phone_region,
            today=datetime.now(config.company.tz).date(),
            confirmation_required=config.workers.manager_confirmation_required,
        )
        print("demo company created" if created else "demo company already there; nothing changed")
        await _demo_passwords(db, config)
        return 0

    return await _with_db(config, work)


def _read_password(path: str | None) -> str:
    """The first line of the file, or of stdin; never an argument (it would show in ``ps``)."""
    try:
        if path is None:
            text = sys.stdin.readline()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.readline()
    except OSError as err:
        raise UsageError(f"brigadier: cannot read {path}: {err.strerror}") from err
    password = text.rstrip("\r\n")
    if not password:
        raise UsageError("brigadier: no password given (stdin or --password-file)")
    return password


async def cmd_create_user(config: Config, args: argparse.Namespace) -> int:
    from core.staff import create_user

    password = _read_password(args.password_file)

    async def work(db: Database) -> int:
        user = await create_user(
            db,
            login=args.login,
            name=args.name,
            role=Role(args.role),
            password=password,
            extension=args.extension,
            language=args.language,
        )
        print(f"user {user.login} ({user.role.value}) created")
        return 0

    return await _with_db(config, work)


async def _demo_passwords(db: Database, config: Config) -> None:
    """Demo users get BRIGADIER__SECRETS__DEMO_PASSWORD, or a hint how to make a user."""
    from core.staff import set_password, users_without_password

    waiting = await users_without_password(db)
    if not waiting:
        return
    password = config.secrets.demo_password
    if password:
        for login in waiting:
            await set_password(db, login=login, password=password)
        print(f"panel users {', '.join(waiting)} can log in with BRIGADIER__SECRETS__DEMO_PASSWORD")
        return
    print(
        "to log in to the panel at /panel, create a user:\n"
        "  .venv/bin/brigadier create-user olha --role operator --name Olha --extension 101\n"
        "(it reads the password from stdin), or set BRIGADIER__SECRETS__DEMO_PASSWORD and "
        f"run seed-demo again to give the demo users ({', '.join(waiting)}) that password"
    )


async def cmd_slots(config: Config, args: argparse.Namespace) -> int:
    from core.catalog import find_service
    from core.clients import find_client
    from core.slots import SlotRules, find_slots

    tz = config.company.tz
    first = args.first or datetime.now(tz).date()
    last = args.last or first + timedelta(days=6)

    async def work(db: Database) -> int:
        service = await find_service(db, ref=args.service)
        client_id = None
        if args.phone:
            client = await find_client(db, phone=args.phone, region=config.company.phone_region)
            client_id = client.id if client else None
        slots = await find_slots(
            db,
            service_id=service.id,
            first=first,
            last=last,
            now=datetime.now(tz),
            rules=SlotRules.from_config(config),
            point=args.at,
            address_id=args.address_id,
            client_id=client_id,
            quantity=args.quantity,
        )
        if args.json:
            _print_json([slot.as_json() for slot in slots])
        else:
            for slot in slots:
                print(f"{slot.start:%a %d.%m %H:%M}–{slot.end:%H:%M}  worker {slot.worker_id}")
            if not slots:
                print("no free starts in this range")
        return 0

    return await _with_db(config, work)


async def cmd_book(config: Config, args: argparse.Namespace) -> int:
    from core.booking import book_visit
    from core.catalog import find_service
    from core.clients import register_client
    from core.models import Channel
    from core.slots import SlotRules

    tz = config.company.tz

    async def work(db: Database) -> int:
        service = await find_service(db, ref=args.service)
        client = await register_client(
            db,
            phone=args.phone,
            region=config.company.phone_region,
            name=args.name,
            channel=Channel.CLI,
            language=config.company.default_language,
        )
        try:
            booking = await book_visit(
                db,
                client_id=client.id,
                service_id=service.id,
                start=args.start,
                now=datetime.now(tz),
                rules=SlotRules.from_config(config),
                channel=Channel.CLI,
                point=args.at,
                address_id=args.address_id,
                address_text=args.address_text,
                quantity=args.quantity,
                comment=args.comment,
                actor="cli",
            )
        except SlotTaken as taken:
            _print_json(
                {
                    "error": taken.code,
                    "message": str(taken),
                    "alternatives": [slot.as_json() for slot in taken.alternatives],
                }
            )
            return EXIT_REFUSED
        _print_json(booking.order.as_json(tz))
        return 0

    return await _with_db(config, work)


async def cmd_parse_when(config: Config, args: argparse.Namespace) -> int:
    from core.when import parse_when, window_to_json

    now = args.now or datetime.now(config.company.tz)
    languages = [args.lang] if args.lang else list(config.company.languages)
    window = parse_when(args.text, now, languages, rules=config.when)
    _print_json(window_to_json(window))
    return 0


async def cmd_worker_invite(config: Config, args: argparse.Namespace) -> int:
    from core.invites import create_invite

    async def work(db: Database) -> int:
        invite = await create_invite(
            db, worker=args.worker, now=datetime.now(config.company.tz),
            lifetime=timedelta(hours=config.workers.invite_lifetime_hours),
            language=args.language,
        )
        expires = invite.expires_at.astimezone(config.company.tz)
        print(f"https://t.me/{config.telegram.worker_bot_username}?start={invite.token}")
        print(f"for {invite.worker_name}, valid once until {expires:%d.%m.%Y %H:%M}")
        return 0

    return await _with_db(config, work)


async def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from webhooks.serve import serve

    await serve(config)
    return 0


COMMANDS: dict[str, Callable[[Config, argparse.Namespace], Awaitable[int]]] = {
    "run": cmd_run,
    "migrate": cmd_migrate,
    "seed-demo": cmd_seed_demo,
    "slots": cmd_slots,
    "book": cmd_book,
    "parse-when": cmd_parse_when,
    "create-user": cmd_create_user,
    "worker-invite": cmd_worker_invite,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiogram says "Update ... is handled" for every update: noise at hundreds a second (a
    # failing update is still logged, as an error).
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    try:
        args = build_parser().parse_args(argv)
        config = load_config(args.config)
        return asyncio.run(COMMANDS[args.command](config, args))
    except UsageError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    except BrigadierError as err:
        print(f"brigadier: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        log.debug("unexpected failure", exc_info=True)
        # One line: driver errors carry the SQL and parameters on the lines after the first.
        first_line = next(iter(str(err).strip().splitlines()), type(err).__name__)
        logging.getLogger("brigadier").error("unexpected failure: %s", first_line)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
