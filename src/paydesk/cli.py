"""The `paydesk` command."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from paydesk.config import Settings
from paydesk.core.logs import configure_logging

if TYPE_CHECKING:
    from paydesk.container import Container

app = typer.Typer(
    help="Paydesk: a multi-currency wallet with the support desk built in.", no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (each prints JSON lines with a same-run baseline).", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
console = Console()


@contextmanager
def _services() -> Iterator[Container]:
    """The application's services for one command, closed after it."""
    from paydesk.container import build

    container = build(Settings())
    try:
        yield container
    finally:
        container.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only; each serves requests)")] = 1,
    no_jobs: Annotated[
        bool, typer.Option("--no-jobs", help="Serve requests only; a `paydesk worker` runs the jobs")
    ] = False,
) -> None:
    """Serve the web app and the API (and, unless --no-jobs, the background jobs)."""
    import uvicorn

    from paydesk.app import create_app
    from paydesk.core.migrate import upgrade

    settings = Settings()
    if settings.is_sqlite:
        upgrade(settings.database_url)  # the embedded default keeps itself current
    if workers > 1:
        if settings.is_sqlite:
            raise typer.BadParameter("several worker processes need PostgreSQL (SQLite has one writer)")
        # Each process builds its own app from the environment; the jobs run where PAYDESK_RUN_JOBS says.
        os.environ["PAYDESK_RUN_JOBS"] = "0" if no_jobs else "1"
        uvicorn.run("paydesk.app:app_from_environment", factory=True, host=host or settings.host,
                    ws_per_message_deflate=False,
                    port=port or settings.port, workers=workers, log_level="info")
        return
    application = create_app(settings, run_jobs=not no_jobs, keep_heap=True)
    # No per-message compression on WebSockets: chat frames are small JSON, and deflating each one for every
    # subscriber (with a compressor's memory per socket) cost more than it saved (bench/chat_fanout.py).
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_level="info",
                ws_per_message_deflate=False)


@app.command()
def worker() -> None:
    """Run the background jobs only (for production next to `serve --no-jobs`)."""
    from paydesk.container import build

    container = build(Settings())
    console.print(f"[bold]paydesk worker[/]: {', '.join(t.name for t in container.jobs.tasks)}")
    try:
        container.jobs.run_forever()
    except KeyboardInterrupt:
        container.jobs.stop()


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from paydesk.core.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    console.print("[green]database is up to date[/]")


@app.command()
def demo() -> None:
    """Load demo data (safe to run again: it adds nothing twice)."""
    from paydesk.core.migrate import upgrade
    from paydesk.demo import load_demo

    settings = Settings()
    if settings.is_sqlite:
        upgrade(settings.database_url)
    summary = load_demo(settings)
    for line in summary:
        console.print(line)


@app.command("grant-role")
def grant_role(login: str, role: str) -> None:
    """Give a user a role: operator (fees, rates), agent, supervisor, admin, editor (help articles)."""
    with _services() as container:
        user = container.identity.grant_role(login, role)
    console.print(f"{login}: {' '.join(sorted(user.roles))}")


@app.command("create-agent")
def create_agent(logins: Annotated[list[str], typer.Argument(help="registered users' emails or phones")],
                 team: Annotated[str, typer.Option(help="the agents' team")] = "general",
                 capacity: Annotated[int, typer.Option(help="most chats at once")] = 5) -> None:
    """Make registered users support agents (role `agent`) in a team, with a chat capacity."""
    from paydesk.core.errors import DomainError

    with _services() as container:
        try:
            for login in logins:
                agent = container.support.create_agent(login, team, capacity)
                console.print(f"{login}: agent in team {agent['team']}, up to {agent['capacity']} chats")
        except DomainError as exc:
            console.print(f"[red]{exc.code}[/]: {exc.detail} (the user registers first)")
            raise typer.Exit(1) from None


@app.command("help-import")
def help_import() -> None:
    """Publish the starter help articles (en, zh-CN) that aren't in the database yet; editors' work is kept."""
    with _services() as container:
        added = container.help.import_starter()
    console.print(f"{added} help article(s) added")


@app.command("import-rates")
def import_rates(path: Path, format: Annotated[str, typer.Option(help="ecb (eurofxref-daily.xml) or csv")] = "ecb",
                 ) -> None:
    """Record exchange rates from the ECB's daily XML or a CSV of currency,per_eur[,as_of]."""
    from paydesk.fx.sources import parse_csv, parse_ecb

    with _services() as container:
        data = path.read_bytes()
        rates = parse_ecb(data) if format == "ecb" else parse_csv(data.decode("utf-8-sig"), container.clock.now())
        result = container.fx.record(rates)
    console.print(f"recorded {', '.join(result['recorded']) or 'nothing'} as of {rates.as_of.isoformat()}"
                  + (f"; skipped {', '.join(result['skipped'])}" if result["skipped"] else ""))


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify the ledger's invariants; exits 1 and names every problem found."""
    with _services() as container:
        problems = container.ledger.check()
    if problems:
        for p in problems:
            console.print(f"[red]FAIL[/] {p.invariant}: {p.detail}")
        console.print(f"[red]{len(problems)} problem(s)[/]")
        raise typer.Exit(1)
    console.print("[green]ledger check passed[/]: debits equal credits per currency, totals match transfers, "
                  "no account past its limit, history complete")


@bench_app.command("ledger")
def bench_ledger(
    scenario: Annotated[list[str] | None, typer.Option(help="uniform, hot_accounts, group_commit")] = None,
    transfers: Annotated[int, typer.Option(help="Transfers per scenario")] = 200_000,
    accounts: Annotated[int, typer.Option(help="Accounts")] = 10_000,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch database and print its URL")] = False,
) -> None:
    """Post transfers among many accounts on scratch storage beside PAYDESK_DATABASE_URL (same SQLite
    directory kind, or a fresh database on the same PostgreSQL server) and print JSON lines with ratios."""
    from paydesk.ledger.bench import run_benchmarks

    run_benchmarks(Settings().database_url, scenarios=scenario, transfers=transfers, accounts=accounts,
                   out=sys.stdout, keep=keep)


def main() -> None:
    configure_logging()
    app()


if __name__ == "__main__":
    main()
