"""``greenlight``: run the bot, try it in the sandbox, and administer the bureau's data."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from bot import logs
from bot.config import Settings, SettingsError, load_settings
from storage.store import Store

if TYPE_CHECKING:
    from aiogram import Bot

    from bot.domain.rules.calendar import WorkCalendar
    from bot.domain.rules.clock import Clock
    from bot.records_export import Format

T = TypeVar("T")

app = typer.Typer(help="Greenlight (绿灯): reporting, approvals and deadline nudges on Telegram.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
org_app = typer.Typer(help="Sections, people, roles, chats and key projects.",
                      no_args_is_help=True)
calendar_app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(calendar_app, name="calendar")
export_app = typer.Typer(help="Exports for the supervision office.", no_args_is_help=True)
app.add_typer(export_app, name="export")
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
webhook_app = typer.Typer(help="The webhook Telegram delivers updates to.",
                          no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")


def fail(message: str) -> NoReturn:
    typer.echo(f"greenlight: {message}", err=True)
    raise typer.Exit(2)


def settings_or_exit(*, serving: bool = False) -> Settings:
    """Settings, or one line naming the bad variable and exit 2. Admin commands log warnings
    only, so their output stays readable; serving commands log at GREENLIGHT_LOG_LEVEL."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
        raise AssertionError from exc  # unreachable: fail() exits
    level = settings.log_level if serving else "WARNING"
    secret = settings.bot_token.get_secret_value().strip() if settings.bot_token else ""
    logs.configure(level, settings.log_format, secret)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # start-up says what it migrated
    return settings


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    from bot.startup import StartupError

    try:
        return asyncio.run(make())  # type: ignore[arg-type]  # a coroutine, typed loosely
    except (SettingsError, StartupError) as exc:
        fail(str(exc))
        raise AssertionError from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def run(
    webhook: Annotated[bool | None, typer.Option(
        "--webhook/--polling",
        help="Take updates by webhook (GREENLIGHT_WEBHOOK_URL, GREENLIGHT_WEBHOOK_SECRET) or "
             "by polling; default: webhook when GREENLIGHT_WEBHOOK_URL is set.")] = None,
) -> None:
    """Run the bot against Telegram (or the Bot API server in GREENLIGHT_API_BASE_URL) until
    SIGTERM or SIGINT, then stop gracefully: no new updates, those under way finish."""
    settings = settings_or_exit(serving=True)
    token = ""
    by_webhook = settings.webhook_url is not None if webhook is None else webhook
    try:
        token = settings.token()
        if by_webhook:
            settings.secret()
            if settings.webhook_url is None:
                raise SettingsError("GREENLIGHT_WEBHOOK_URL is not set: webhook mode needs the "
                                    "public HTTPS URL Telegram posts updates to")
    except SettingsError as exc:
        fail(str(exc))

    async def main() -> None:
        from bot.app import create_app
        from bot.startup import check_bot_api, check_database, check_token
        from bot.web import serve

        check_token(token)
        await check_bot_api(token, settings.api_base_url)
        await check_database(settings.db_url)
        await serve(await create_app(settings, token=token), webhook=by_webhook)

    run_async(main)


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port of the local Bot API emulator and chat page.")]
    = 8081,
    fresh: Annotated[bool, typer.Option(help="Start from an empty sandbox database.")] = False,
) -> None:
    """Try Greenlight without a token: the Bot API emulator, the bot and a demo bureau."""
    settings = settings_or_exit(serving=True)

    async def main() -> None:
        from sandbox.runner import run_sandbox

        await run_sandbox(settings, port=port, fresh=fresh)

    run_async(main)


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    token: Annotated[str, typer.Option(help="The bot token it accepts.")] = "123456:TEST-TOKEN",
) -> None:
    """Run the Telegram Bot API emulator alone (for tests and local development)."""
    settings_or_exit(serving=True)

    async def main() -> None:
        from sandbox.emulator.server import run_emulator

        await run_emulator(host=host, port=port, bot_token=token)

    run_async(main)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest version (the bot also does this on start)."""
    settings = settings_or_exit()

    async def main() -> str | None:
        from bot.startup import check_database
        from storage.db import create_engine
        from storage.migrate import current_revision

        await check_database(settings.db_url)
        engine = create_engine(settings.db_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {run_async(main)}")


@org_app.command("import")
def org_import(file: Annotated[Path, typer.Argument(help="Organisation YAML file.")]) -> None:
    """Create or update sections, people, roles, chats and projects from FILE (idempotent)."""
    settings = settings_or_exit()
    if not file.is_file():
        fail(f"{file}: no such file")

    async def main() -> str:
        from bot.domain.rules.clock import SystemClock
        from bot.domain.rules.org_file import OrgFileError
        from bot.domain.usecases.org_import import import_org_file

        async with _store(settings) as store:
            try:
                report = await import_org_file(store, file, now=SystemClock().now())
            except OrgFileError as exc:
                fail(str(exc))
            return str(report)

    typer.echo(run_async(main))


@calendar_app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(help="YAML or CSV of holidays and make-up workdays.")],
) -> None:
    """Add a year's official holidays and make-up workdays (e.g. from the State Council
    notice) for years chinese-calendar does not cover yet."""
    settings = settings_or_exit()
    if not file.is_file():
        fail(f"{file}: no such file")

    async def main() -> str:
        from bot.domain.rules.calendar import CalendarFileError, parse_calendar_file
        from bot.domain.rules.clock import SystemClock
        from bot.domain.usecases.calendar_admin import import_calendar

        try:
            parsed = parse_calendar_file(file.read_text(encoding="utf-8"), file.name)
        except CalendarFileError as exc:
            fail(str(exc))
        async with _store(settings) as store:
            report = await import_calendar(store, parsed, source=file.name,
                                           now=SystemClock().now())
        years = ", ".join(str(y) for y in report.years) or "none"
        return (f"{report.added} days added, {report.changed} changed, {report.unchanged} "
                f"unchanged; official data now covers: {years}")

    typer.echo(run_async(main))


@calendar_app.command("due")
def calendar_due(
    start: Annotated[str, typer.Argument(help="Accepted on: YYYY-MM-DD or YYYY-MM-DDTHH:MM "
                                              "(local time).")],
    days: Annotated[int, typer.Argument(help="Limit in working days.", min=0)],
) -> None:
    """Print the due date of a limit of DAYS working days accepted at START."""
    settings = settings_or_exit()
    try:
        accepted = datetime.fromisoformat(start)
    except ValueError:
        fail(f"'{start}' is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM")
        raise AssertionError from None
    if len(start) <= 10:  # a bare date: accepted at the start of that day's office hours
        accepted = datetime.combine(accepted.date(), settings.office_intervals[0][0])
    accepted = accepted.replace(tzinfo=settings.tz) if accepted.tzinfo is None else accepted

    async def main() -> list[str]:
        calendar = await _calendar(settings)
        deadline = calendar.deadline(accepted, days)
        first = deadline.due_day.isoformat()
        if deadline.uncertain:
            years = ", ".join(str(y) for y in deadline.uncertain_years)
            first += (f" uncertain: no official holiday data for {years} (weekends only); "
                      "import the State Council notice with `greenlight calendar import`")
        local_due = deadline.due.astimezone(settings.tz)
        return [first,
                f"due {local_due:%Y-%m-%d %H:%M} ({local_due:%A}), {days} working days after "
                f"{deadline.accepted_day.isoformat()} (the day of acceptance is not counted)"]

    typer.echo("\n".join(run_async(main)))


@calendar_app.command("show")
def calendar_show(year: Annotated[int, typer.Argument(help="The year to list.")]) -> None:
    """List a year's holidays and make-up workdays and where each came from."""
    settings = settings_or_exit()

    async def main() -> list[str]:
        calendar = await _calendar(settings)
        listing = calendar.year_listing(year)
        out = [f"{year}: " + ("official data" if listing.covered else
                              "NO official data: weekends only, due dates are uncertain")]
        for title, days in (("holidays", listing.holidays), ("make-up workdays", listing.workdays)):
            out.append(f"{title} ({len(days)}):")
            out.extend(f"  {d.day.isoformat()} {d.day:%a}  {d.name or '-'}  [{d.source}]"
                       for d in days)
        return out

    typer.echo("\n".join(run_async(main)))


@calendar_app.command("add")
def calendar_add(
    day: Annotated[str, typer.Argument(help="The date, YYYY-MM-DD.")],
    kind: Annotated[str, typer.Argument(help="holiday or workday.")],
    name: Annotated[str, typer.Argument(help="What it is, e.g. 春节 or 春节调休.")] = "",
) -> None:
    """Declare one day a holiday or a (make-up) working day."""
    settings = settings_or_exit()
    try:
        when = date.fromisoformat(day)
    except ValueError:
        fail(f"'{day}' is not a date: use YYYY-MM-DD")
        raise AssertionError from None
    if kind not in ("holiday", "workday"):
        fail(f"'{kind}' must be holiday or workday")

    async def main() -> bool:
        from bot.domain.rules.clock import SystemClock
        from bot.domain.usecases.calendar_admin import set_day

        async with _store(settings) as store:
            return await set_day(store, day=when, is_workday=kind == "workday", name=name,
                                 source="greenlight calendar add", now=SystemClock().now())

    changed = run_async(main)
    typer.echo(f"{when.isoformat()} is now a {kind}" if changed else "nothing to change")


@export_app.command("urges")
def export_urges(
    file: Annotated[Path, typer.Argument(help="The .xlsx file to write.")],
    year: Annotated[int | None, typer.Option(help="The year; default: this year.")] = None,
) -> None:
    """Who was urged how often (yellow, red, urge notices), per person and section."""
    settings = settings_or_exit()

    async def main() -> int:
        from bot.domain.rules.clock import SystemClock
        from bot.domain.usecases.supervision import urge_counts
        from bot.export import write_urge_counts

        chosen = year or SystemClock().now().astimezone(settings.tz).year
        async with _store(settings) as store:
            counts = await urge_counts(store, chosen, settings.tz)
        write_urge_counts(counts, file)
        return len(counts.people)

    people = run_async(main)
    typer.echo(f"wrote {file} ({people} people)")


def _export_command(kind: str) -> Callable[..., None]:
    def export(
        out: Annotated[Path | None, typer.Option(
            "--out", help="The file to write; default: KIND-FROM-TO.FORMAT here.")] = None,
        fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
        first: Annotated[str | None, typer.Option(
            "--from", help="First day (YYYY-MM-DD); default: 1 January this year.")] = None,
        last: Annotated[str | None, typer.Option(
            "--to", help="Last day, included (YYYY-MM-DD); default: today.")] = None,
        lang: Annotated[str, typer.Option(help="Headers in zh or en.")] = "zh",
    ) -> None:
        settings = settings_or_exit()
        if fmt not in ("xlsx", "csv"):
            fail(f"--format: xlsx or csv, not '{fmt}'")
        chosen: Format = "xlsx" if fmt == "xlsx" else "csv"
        if lang not in ("zh", "en"):
            fail(f"--lang: zh or en, not '{lang}'")
        now = _clock(settings).now()
        today = now.astimezone(settings.tz).date()
        try:
            start_day = date.fromisoformat(first) if first else today.replace(month=1, day=1)
            end_day = date.fromisoformat(last) if last else today
        except ValueError as exc:
            fail(f"--from/--to: {exc} (write YYYY-MM-DD)")
        if end_day < start_day:
            fail(f"--to {end_day} is before --from {start_day}")
        path = out or Path(f"{kind}-{start_day}-{end_day}.{fmt}")

        async def main() -> int:
            from bot.domain.usecases.records import period, records
            from bot.records_export import write_records

            start, end = period(start_day, end_day, settings.tz)
            async with _store(settings) as store:
                total, rows = await records(store, kind, start, end, now=now,
                                            calendar=await _calendar(settings, store),
                                            tz=settings.tz)
                with typer.progressbar(length=total, label=f"{kind}: {total:,} rows",
                                       file=sys.stderr) as bar:
                    return await write_records(rows, kind, path, chosen, lang, settings.tz,
                                               progress=bar.update)

        written = run_async(main)
        typer.echo(f"wrote {path} ({written:,} rows)")

    export.__doc__ = EXPORT_HELP[kind]
    return export


EXPORT_HELP = {
    "cases": "Items submitted in the period: code, project, title, type, submitter, state, "
             "times.",
    "steps": "Steps started in the period: item, step, round, mode, limit, state, due, closed.",
    "nudges": "Nudges claimed in the period: subject, level, person, channel, sent, late.",
    "audit": "The audit trail's events in the period (with their hashes).",
    "supervision": "Urge notices issued in the period, with their written answers.",
    "ledger": "The first-question ledger (首问负责制台账): entries recorded in the period, "
            "with who was asked, the owner and the outcome.",
    "stats": "The /stats figures per section over the period.",
    "items": "Supervision items registered in the period: code, title, assignee, state, "
             "times, working days late.",
}
for _kind in EXPORT_HELP:
    export_app.command(_kind)(_export_command(_kind))


@app.command()
def status() -> None:
    """When the last sweep finished, updates handled in the last hour, card and nudge claims
    not sent yet, and the open cases (from the database every worker writes to)."""
    settings = settings_or_exit()

    async def main() -> list[str]:
        from bot.status import read_status

        now = _clock(settings).now()
        async with _store(settings) as store:
            found = await read_status(store, now)
        return found.lines(now)

    typer.echo("\n".join(run_async(main)))


def _clock(settings: Settings) -> Clock:
    from bot.clock_file import FileClock
    from bot.domain.rules.clock import SystemClock

    return FileClock(settings.clock_file) if settings.clock_file else SystemClock()


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit trail's hash chain; name the first event that was changed, removed or
    slipped in (exit 1), else say how many events hold."""
    settings = settings_or_exit()

    async def main() -> str | None:
        async with _store(settings) as store:
            verdict = await store.verify_audit_chain()
        if verdict.broken is None:
            typer.echo(f"audit chain holds: {verdict.events:,} events")
            return None
        event = verdict.broken.event
        why = ("it does not follow the event before it (one was removed or slipped in)"
               if verdict.broken.link else "its contents do not match its hash (edited)")
        at = event.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")
        before = verdict.events - 1
        held = f"the {before:,} events before it hold" if before != 1 else \
            "the event before it holds"
        return (f"audit chain broken at event {event.id} ({at} {event.action}"
                f" {event.subject}): {why}; {held}")

    broken = run_async(main)
    if broken is not None:
        typer.echo(broken, err=True)
        raise typer.Exit(1)


@webhook_app.command("remove")
def webhook_remove(
    drop_pending: Annotated[bool, typer.Option(
        help="Also drop the updates Telegram holds for the bot.")] = False,
) -> None:
    """Delete the webhook (deleteWebhook): Telegram keeps updates until the bot polls, or
    until a worker in webhook mode starts and sets it again."""
    settings = settings_or_exit()
    token = _token_or_exit(settings)

    async def main() -> str:
        async with _bot(settings, token) as bot:
            info = await bot.get_webhook_info()
            await bot.delete_webhook(drop_pending_updates=drop_pending)
            if not info.url:
                return "no webhook was set"
            return f"webhook {info.url} removed ({info.pending_update_count} updates pending" \
                + (", dropped)" if drop_pending else ")")

    typer.echo(run_async(main))


@webhook_app.command("info")
def webhook_info() -> None:
    """Show the webhook Telegram delivers to, its pending updates and its last error."""
    settings = settings_or_exit()
    token = _token_or_exit(settings)

    async def main() -> list[str]:
        async with _bot(settings, token) as bot:
            info = await bot.get_webhook_info()
        if not info.url:
            return [f"no webhook: updates wait for polling ({info.pending_update_count} pending)"]
        out = [f"url {info.url}", f"pending {info.pending_update_count}"]
        if info.last_error_message:
            out.append(f"last error {info.last_error_message}")
        return out

    typer.echo("\n".join(run_async(main)))


def _token_or_exit(settings: Settings) -> str:
    try:
        return settings.token()
    except SettingsError as exc:
        fail(str(exc))
        raise AssertionError from exc


@asynccontextmanager
async def _bot(settings: Settings, token: str) -> AsyncIterator[Bot]:
    """A bare bot on the configured Bot API server, closed after; a Bot API error is one
    line, never with the token."""
    from aiogram import Bot
    from aiogram.exceptions import TelegramAPIError

    from bot.startup import StartupError, check_token
    from bot.telegram import Session, describe

    check_token(token)
    bot = Bot(token, session=Session(settings.api_base_url))
    try:
        yield bot
    except TelegramAPIError as exc:
        raise StartupError(f"the Bot API at {settings.api_base_url.rstrip('/')} answered: "
                           f"{describe(exc, token)}") from None
    finally:
        await bot.session.close()


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    """A Store on the configured database, schema upgraded first; the command's work is
    committed when its block ends without an error (the use cases only flush)."""
    from storage.db import create_engine, create_session_factory
    from storage.migrate import upgrade

    engine = create_engine(settings.db_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            yield Store(session)
            await session.commit()
    finally:
        await engine.dispose()


async def _calendar(settings: Settings, store: Store | None = None) -> WorkCalendar:
    """The working-day calendar with the database's overrides, read through ``store`` when
    the command has one open already."""
    from bot.domain.rules.clock import SystemClock
    from bot.services import Services

    services = Services.from_settings(settings, SystemClock())
    if store is not None:
        return await services.reload_calendar(store)
    async with _store(settings) as own:
        return await services.reload_calendar(own)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
