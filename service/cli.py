"""The ``civility`` command: a Flask CLI group (so ``civility routes`` and ``civility shell`` work too).

The commands below build only what they need from the settings, so ``db upgrade`` or ``score``
run without Redis and ``worker`` runs without the web app. Run beside ``make dev`` (from the same
directory) they find its embedded Redis and database under ``var/`` by themselves.
"""

from __future__ import annotations

import json
import logging
import re
import sys

import click
from flask.cli import FlaskGroup, NoAppException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError, ProgrammingError

from civility.config import ConfigError, Settings
from civility.errors import DomainError
from civility.moderators import ROLES


def _create_app():
    from service import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise NoAppException(str(exc)) from None


class CivilityGroup(FlaskGroup):
    """Flask's group, with one-line errors instead of tracebacks for what an operator can fix."""

    # Every command is ours or Flask's built-in: an unknown one prints the usage without first
    # building the app (which would fail for reasons unrelated to the typo).
    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return click.Group.get_command(self, ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return click.Group.list_commands(self, ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            click.echo(ctx.get_help() + "\n", err=True)
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise click.ClickException(f"cannot reach Redis: {exc}") from None
        except (OperationalError, ProgrammingError) as exc:
            problem = str(exc.orig or exc).strip().splitlines()[0]
            hint = " (run `civility db upgrade` first?)" if re.search(r"no such table|does not exist", problem) else ""
            raise click.ClickException(f"cannot use the database: {problem}{hint}") from None


@click.group(cls=CivilityGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """civility: comments, share counts and machine-scored moderation for news sites."""


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command("dev", with_appcontext=False)
@click.option("--port", default=8000, show_default=True, help="Port for the API on 127.0.0.1.")
def dev(port: int) -> None:
    """Run everything locally: embedded Redis, SQLite, a scoring worker and the API."""
    from service.devserver import run_dev

    _logging()
    sys.exit(run_dev(port))


@main.group("db", cls=click.Group)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to CIVILITY_DATABASE_URL."""
    from civility.store.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {settings.database_url.split('@')[-1]} is at {revision}")


@main.command("worker", with_appcontext=False)
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
def worker(burst: bool) -> None:
    """An RQ scoring worker. The scorer is loaded once per process."""
    from workers.worker import run_worker

    _logging()
    run_worker(burst=burst)


@main.group("moderators", cls=click.Group)
def moderators_group() -> None:
    """Moderator accounts and their tokens."""


def _db():
    from civility.infra.runtime import database

    return database(Settings.from_env())


@moderators_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=ROLES[0], show_default=True)
def moderators_create(name: str, role: str) -> None:
    """Create a moderator and print its token (shown once; only a hash is stored)."""
    from civility.moderators import create_moderator

    click.echo(create_moderator(_db(), name, role))


@moderators_group.command("list")
def moderators_list() -> None:
    """List moderators (never their tokens)."""
    from civility.moderators import list_moderators

    for m in list_moderators(_db()):
        state = f"revoked {m.revoked_at:%Y-%m-%d}" if m.revoked_at else "active"
        click.echo(f"{m.name}\t{m.role}\t{state}")


@moderators_group.command("revoke")
@click.argument("name")
def moderators_revoke(name: str) -> None:
    """Revoke a moderator's token."""
    from civility.moderators import revoke_moderator

    if not revoke_moderator(_db(), name):
        raise click.ClickException(f"no active moderator named {name!r}")
    click.echo(f"revoked {name}")


@main.command("sweep", with_appcontext=False)
def sweep_command() -> None:
    """Re-enqueue comments left unscored past their deadline."""
    from civility.infra.jobqueue import ScoringQueue
    from civility.infra.runtime import Runtime
    from civility.sweeper import sweep

    rt = Runtime(Settings.from_env())
    result = sweep(rt.db, rt.settings, ScoringQueue(rt.redis, rt.settings))
    click.echo(f"re-enqueued {result.requeued}, still queued {result.still_queued}, "
               f"sent to moderators as 'scoring failed' {result.failed}")


@main.command("score", with_appcontext=False)
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def score_command(texts: tuple[str, ...], as_json: bool) -> None:
    """Score texts with the configured scorer and print per-label scores and the decision."""
    from civility.policy import decide
    from workers.scorers import load_scorer

    settings = Settings.from_env()
    scorer, info = load_scorer(settings)
    results = scorer.score(list(texts))
    rows = []
    for text, scores in zip(texts, results, strict=True):
        decision = decide(scores, settings.thresholds)
        rows.append({"text": text, "scores": scores, "decision": decision.status.value,
                     "reasons": decision.reasons})
    if as_json:
        click.echo(json.dumps({"scorer": info.as_dict(), "results": rows}, indent=2))
        return
    click.echo(f"scorer: {info.name} {info.version}")
    if info.warning:
        click.echo(f"warning: {info.warning}", err=True)
    for row in rows:
        click.echo(f"\n{row['text'][:70]!r}")
        for label, value in sorted(row["scores"].items(), key=lambda kv: -kv[1]):
            click.echo(f"  {label:<16} {value:.3f}")
        reasons = f" ({'; '.join(row['reasons'])})" if row["reasons"] else ""
        click.echo(f"  decision: {row['decision']}{reasons}")


if __name__ == "__main__":
    main()
