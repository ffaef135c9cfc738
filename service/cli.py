"""The ``civility`` command: a Flask CLI group (so ``civility routes`` and ``civility shell`` work too).

The commands below build only what they need from the settings, so ``db upgrade`` or ``score``
run without Redis and ``worker`` runs without the web app. Run beside ``make dev`` (from the same
directory) they find its embedded Redis and database under ``var/`` by themselves.
"""

from __future__ import annotations

import io
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
from civility.wordlists import KINDS as WORD_LIST_KINDS
from service.keys_cli import keys_group
from service.models_cli import models_group


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
@click.option("--processes", type=click.IntRange(1), default=1, show_default=True,
              help="Scorer processes under one supervisor, sharing the cores (CIVILITY_TORCH_THREADS each).")
def worker(burst: bool, processes: int) -> None:
    """An RQ scoring worker. The scorer is loaded once per process."""
    from workers.scorers.loader import check_installed

    check_installed(Settings.from_env())  # before connecting anywhere or starting children
    _logging()
    if processes == 1:
        from workers.worker import run_worker

        run_worker(burst=burst)
        return
    from workers.pool import run_pool

    sys.exit(run_pool(Settings.from_env(), processes, burst=burst))


# `civility models pull|list|verify|export|import` (service/models_cli.py)
main.add_command(models_group)
# `civility keys create|list|revoke` (service/keys_cli.py): keys of the Perspective-compatible API
main.add_command(keys_group)


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
    from civility.infra import after_commit
    from civility.infra.jobqueue import ScoringQueue
    from civility.infra.runtime import Runtime
    from civility.sweeper import sweep

    rt = Runtime(Settings.from_env())
    after_commit.install(rt.db, rt.redis, rt.settings)
    result = sweep(rt.db, rt.settings, ScoringQueue(rt.redis, rt.settings))
    click.echo(f"re-enqueued {result.requeued}, still queued {result.still_queued}, "
               f"sent to moderators as 'scoring failed' {result.failed}")
    from civility.infra.jobqueue import WebhookQueue
    from civility.sweeper import sweep_webhooks

    click.echo(f"re-enqueued {sweep_webhooks(rt.db, rt.settings, WebhookQueue(rt.redis, rt.settings))} "
               f"lost webhook deliveries")
    if rt.settings.retention_days:
        click.echo(f"retention ({rt.settings.retention_days} days): forgot {result.forgotten_client_hashes} "
                   f"client hashes, deleted {result.deleted_share_events} share events")


@main.group("readers", cls=click.Group)
def readers_group() -> None:
    """Readers' data rights: export (GDPR art. 15, 20) and erasure (art. 17)."""


def _readers():
    from civility.infra import after_commit
    from civility.infra.runtime import Runtime
    from civility.instance import ClientHashSalt
    from civility.readers import ReadersService

    rt = Runtime(Settings.from_env())
    # An erasure changes threads and sends the reader.erased webhook.
    after_commit.install(rt.db, rt.redis, rt.settings)
    return ReadersService(rt.db, rt.settings, ClientHashSalt(rt.db, rt.settings.client_hash_salt))


@readers_group.command("export")
@click.option("--sub", help="The reader's `sub` (identity token).")
@click.option("--edit-token", help="The edit token of an anonymous comment (exports that comment).")
def readers_export(sub: str | None, edit_token: str | None) -> None:
    """Print everything kept about one reader as one JSON document."""
    if bool(sub) == bool(edit_token):
        raise click.UsageError("give one of --sub or --edit-token")
    service = _readers()
    document = service.export(sub) if sub else service.export_by_edit_token(edit_token or "")
    click.echo(json.dumps(document, indent=2, default=lambda value: value.isoformat()))


@readers_group.command("erase")
@click.option("--sub", required=True, help="The reader's `sub` (identity token).")
@click.confirmation_option(prompt="Erase this reader's comments, votes, reports and shares for good?")
def readers_erase(sub: str) -> None:
    """Erase a reader: comments become placeholders, votes and reports go, shares are anonymised."""
    result = _readers().erase(sub, "cli")
    click.echo(f"erased {result.comments} comments, {result.votes} votes, {result.reports} reports; "
               f"anonymised {result.shares} share events")


@main.group("wordlist", cls=click.Group)
def wordlist_group() -> None:
    """Moderation word lists: an entry of `reject` rejects a comment, one of `hold` holds it.

    Entries are words or phrases; * inside a word is any letters (kill*), alone any one word
    (go back to *). Workers and API processes see a change within seconds.
    """


@wordlist_group.command("add")
@click.argument("kind", type=click.Choice(WORD_LIST_KINDS))
@click.argument("entries", nargs=-1, required=True)
def wordlist_add(kind: str, entries: tuple[str, ...]) -> None:
    """Add entries to a list (quote a phrase: "go back to *")."""
    from civility.wordlists import add_entries

    result, added = add_entries(_db(), kind, list(entries), "cli")
    click.echo(f"added {len(added)} to {kind}; it has {len(result.entries)} entries (version {result.version})")


@wordlist_group.command("remove")
@click.argument("kind", type=click.Choice(WORD_LIST_KINDS))
@click.argument("entries", nargs=-1, required=True)
def wordlist_remove(kind: str, entries: tuple[str, ...]) -> None:
    """Remove entries from a list (ignoring case)."""
    from civility.wordlists import remove_entries

    result, removed = remove_entries(_db(), kind, list(entries), "cli")
    missing = len(entries) - len(removed)
    click.echo(f"removed {len(removed)} from {kind}" + (f" ({missing} not in it)" if missing > 0 else "")
               + f"; it has {len(result.entries)} entries (version {result.version})")


@wordlist_group.command("list")
@click.argument("kind", type=click.Choice(WORD_LIST_KINDS))
def wordlist_list(kind: str) -> None:
    """Print a list's entries, one a line, oldest first."""
    from civility.wordlists import list_entries

    for entry in list_entries(_db(), kind).entries:
        click.echo(entry)


def _word_lists(settings: Settings):
    """The word lists workers apply, from the configured database; without one (no database file
    yet, or no schema) the texts are scored without them, with a warning."""
    from civility.store.wordlists import missing_sqlite_file
    from civility.wordlists import WordListMatcher, current_matcher

    missing = missing_sqlite_file(settings.database_url)
    if missing:
        click.echo(f"warning: word lists not applied: no database at {missing}", err=True)
        return WordListMatcher()
    try:
        return current_matcher(_db())
    except (OperationalError, ProgrammingError) as exc:
        problem = str(exc.orig or exc).strip().splitlines()[0]
        click.echo(f"warning: word lists not applied: {problem} (run `civility db upgrade`?)", err=True)
        return WordListMatcher()


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
    words = _word_lists(settings)
    rows = []
    for text, scores in zip(texts, results, strict=True):
        verdict = words.check(text)  # as a worker decides: word lists beside the scores
        decision = decide(scores, settings.thresholds, held_for=verdict.hold, rejected_for=verdict.reject)
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


@main.command("backtest", with_appcontext=False)
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="A CSV with the columns text,label (1: should be held, 0: should be published).")
@click.option("--decisions", is_flag=True, help="Use moderators' past decisions as the truth (reject: 1, approve: 0).")
@click.option("--feedback", is_flag=True, help="Use the scores Perspective clients suggested (comments:suggestscore; "
                                               "Coral's DELETED: 1, APPROVED: 0) as the truth.")
@click.option("--since", help="With --decisions or --feedback: only those at or after this ISO 8601 date or time "
                              "(UTC unless it names an offset).")
@click.option("--rescore", is_flag=True, help="With --decisions: score the decided texts again with the configured "
                                              "scorer instead of using the scores stored on the comments.")
@click.option("--target-precision", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True,
              help="For each label, the hold threshold that would reach this precision.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema in docs/api.md).")
def backtest_command(csv_path: str | None, decisions: bool, feedback: bool, since: str | None, rescore: bool,
                     target_precision: float, as_json: bool) -> None:
    """How the current thresholds and word lists do against labelled texts or moderators' decisions."""
    from tqdm import tqdm

    from civility import backtest

    if [bool(csv_path), decisions, feedback].count(True) != 1:
        raise click.UsageError("give one of --csv FILE, --decisions or --feedback")
    if (csv_path and since) or (rescore and not decisions):
        raise click.UsageError("--since goes with --decisions or --feedback, --rescore with --decisions")
    settings = Settings.from_env()
    since_at = backtest.parse_since(since) if since else None
    samples = None
    if csv_path:
        opened = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="") if csv_path == "-"
                  else open(csv_path, encoding="utf-8-sig", newline=""))  # noqa: SIM115 - closed by with
        with opened as stream:
            samples = backtest.read_csv(stream)
    db = _db()
    if feedback:
        samples = backtest.feedback_samples(db, since_at)
    words = backtest.word_list_check(db)
    rescorer = None
    if csv_path or feedback or rescore:
        from workers.scorers import load_scorer

        scorer, info = load_scorer(settings)
        rescorer = backtest.Rescorer(scorer, info.as_dict())
    bar = tqdm(desc="backtest", unit="text", file=sys.stderr, disable=None, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    try:
        if samples is not None and rescorer is not None:
            result = backtest.from_samples(samples, settings, rescorer, words, target_precision, progress,
                                           source="feedback" if feedback else "csv")
        else:
            result = backtest.from_decisions(db, settings, since_at, target_precision, limit=None, words=words,
                                             rescorer=rescorer, progress=progress)
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(backtest.render_text(result)))


@main.group("webhooks", cls=click.Group)
def webhooks_group() -> None:
    """Signed webhooks on moderation events (see README "Webhooks")."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated: comment.created,comment.flagged,comment.reported,"
              "comment.decided,comment.deleted,reader.erased")
def webhooks_add(url: str, events: str) -> None:
    """Add an endpoint; prints its signing secret once."""
    from civility import webhooks

    added = webhooks.add_endpoint(_db(), Settings.from_env(), url, [e.strip() for e in events.split(",") if e.strip()])
    click.echo(f"added webhook {added.endpoint.id}: {url} ({', '.join(added.endpoint.events)})")
    click.echo(f"signing secret (shown once): {added.secret}")


@webhooks_group.command("list")
def webhooks_list() -> None:
    """Every endpoint, with its events and whether it is disabled (and why)."""
    from civility import webhooks

    for e in webhooks.list_endpoints(_db()):
        state = f"disabled: {e.disabled_reason}" if e.disabled_at else "enabled"
        click.echo(f"{e.id}\t{e.url}\t{','.join(e.events)}\t{state}")


@webhooks_group.command("remove")
@click.argument("endpoint_id", type=int)
def webhooks_remove(endpoint_id: int) -> None:
    """Remove an endpoint and its delivery history."""
    from civility import webhooks

    webhooks.remove_endpoint(_db(), endpoint_id)
    click.echo(f"removed webhook {endpoint_id}")


@main.command("live", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.option("--max-streams", type=click.IntRange(1), default=None,
              help="Streams held at once before answering 503 (default: the open-file limit, less 64).")
def live_command(host: str, port: int, max_streams: int | None) -> None:
    """Serve only live thread events (Server-Sent Events) to many readers at once (docs/live.md)."""
    from service.live_server import run

    settings = Settings.from_env()
    settings.require_redis_url()
    _logging()
    run(settings, host, port, max_streams)


if __name__ == "__main__":
    main()
