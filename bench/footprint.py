"""Measure what storage grows with, for docs/scaling.md: Redis memory per article and PostgreSQL
size per comment.

    .venv/bin/python bench/footprint.py [--articles 100000] [--comments 500] [--copies 100] [--postgres URL]

Redis (a private redis-server, empty at the start): the keys civility keeps per article, written as
the code writes them (``{prefix}:share-totals`` and ``{prefix}:comment-totals`` hash fields, the
generation key ``{prefix}:tgen:{article}`` with its 30-day TTL), then one cached page of 50
comments; ``used_memory`` from INFO before and after, divided by the count.

PostgreSQL (a database of its own, ``civility_footprint_bench``, made and dropped on the
``TEST_DATABASE_URL`` server): ``--comments`` realistic comments are posted through the API (Flask's
test client) and scored by a real RQ worker with the profanity scorer, so every row and history
event is what production writes. They are then copied ``--copies`` times in SQL (each copy's body
made distinct), the database is vacuumed, and ``pg_total_relation_size`` (table, indexes, TOAST) of
each table is divided by the number of comments.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import exit_on_sigterm
from bench.scoring_corpus import realistic_comments
from civility.store.db import normalise_url

DATABASE = "civility_footprint_bench"
PREFIX = "civility"
GENERATION_TTL = 30 * 24 * 3600
TABLES = ("comments", "comment_events", "article_activity")


def conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    return (parsed.set(database=database) if database else parsed).render_as_string(hide_password=False)


def used_memory(redis) -> int:
    return int(redis.info("memory")["used_memory"])


def redis_per_article(redis, articles: int) -> float:
    before = used_memory(redis)
    for start in range(0, articles, 5000):
        pipe = redis.pipeline(transaction=False)
        for n in range(start, min(articles, start + 5000)):
            article = f"news/2026/12/a-story-about-the-council-budget-{n}"
            pipe.hset(f"{PREFIX}:share-totals", article, 37)
            pipe.hset(f"{PREFIX}:comment-totals", article, f"1796227909123456|{n % 400}")
            pipe.set(f"{PREFIX}:tgen:{article}", 1796227909123456 + n, ex=GENERATION_TTL)
        pipe.execute()
    return (used_memory(redis) - before) / articles


def redis_per_page(redis, page: bytes, pages: int = 1000) -> float:
    before = used_memory(redis)
    pipe = redis.pipeline(transaction=False)
    for n in range(pages):
        key = f"{PREFIX}:tpages:news/hot-{n}"
        pipe.hset(key, "1796227909123456|newest|50|", page)
        pipe.expire(key, 600)
    pipe.execute()
    return (used_memory(redis) - before) / pages


def post_and_score(db_url: str, redis_url: str, comments: int) -> bytes:
    """Post through the API, score with a real RQ worker; returns one page of 50 comments as served."""
    from rq import Queue, SimpleWorker

    from civility.config import Settings
    from civility.infra import runtime
    from service import create_app

    settings = Settings.from_env({}, database_url=db_url, redis_url=redis_url, redis_prefix=PREFIX,
                                 scorer="profanity", rate_limits=None)
    app = create_app(settings)
    client = app.test_client()
    for n, body in enumerate(realistic_comments(comments)):
        article = "news/hot-0" if n % 5 == 0 else f"news/story-{n % 50}"  # one thread of comments/5
        answer = client.post(f"/api/v1/articles/{article}/comments", json={"body": body, "author_name": f"Reader {n}"},
                             environ_base={"REMOTE_ADDR": f"198.51.{n // 250}.{n % 250 + 1}"},
                             headers={"User-Agent": f"Browser/{n}"})
        assert answer.status_code == 202, answer.get_data(as_text=True)
    rt = runtime.use(settings)
    SimpleWorker([Queue(settings.rq_queue_name(), connection=rt.redis)], connection=rt.redis).work(
        burst=True, logging_level="WARNING")
    page = client.get("/api/v1/articles/news/hot-0/comments?limit=50")
    app.extensions["civility"].db.dispose()
    return page.get_data()


def copy_comments(conn, copies: int) -> None:
    """Each comment and its history ``copies - 1`` more times; the source id rides in author_id."""
    columns = [row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'comments' AND column_name <> 'id' "
        "ORDER BY ordinal_position")]
    event_columns = [row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'comment_events' "
        "AND column_name NOT IN ('id', 'comment_id') ORDER BY ordinal_position")]
    picked = ", ".join({"body": "c.body || ' ' || g", "html": "c.html || ' ' || g",
                        "author_id": "'copy:' || c.id"}.get(col, f"c.{col}") for col in columns)
    conn.execute(f"INSERT INTO comments ({', '.join(columns)}) SELECT {picked} "
                 f"FROM comments c CROSS JOIN generate_series(2, %s) g", (copies,))
    conn.execute(f"INSERT INTO comment_events (comment_id, {', '.join(event_columns)}) "
                 f"SELECT n.id, {', '.join('e.' + col for col in event_columns)} FROM comments n "
                 f"JOIN comment_events e ON n.author_id = 'copy:' || e.comment_id")
    conn.execute("UPDATE comments SET author_id = NULL WHERE author_id LIKE 'copy:%'")


def postgres_per_comment(conn) -> tuple[int, dict[str, float]]:
    conn.execute("VACUUM FULL ANALYZE")
    total = conn.execute("SELECT count(*) FROM comments").fetchone()[0]
    sizes = {table: conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0] for table in TABLES}
    events = conn.execute("SELECT count(*) FROM comment_events").fetchone()[0]
    print(f"  {total} comments, {events} history events")
    return total, {table: size / total for table, size in sizes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--comments", type=int, default=500, help="posted and scored through the real code")
    parser.add_argument("--copies", type=int, default=100, help="then copied in SQL to this many times as many")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    exit_on_sigterm()
    from redis import Redis

    from civility.infra.redis_server import RedisServer
    from civility.store.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="civility-footprint-") as tmp, contextlib.ExitStack() as stack:
        server = RedisServer(Path(tmp) / "redis").start()
        stack.callback(server.stop)
        admin = conninfo(args.postgres)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        stack.callback(drop_database, admin)
        db_url = conninfo(args.postgres, DATABASE)
        upgrade(db_url)

        page = post_and_score(db_url, server.url, args.comments)
        redis = Redis.from_url(server.url)
        redis.flushall()
        per_article = redis_per_article(redis, args.articles)
        per_page = redis_per_page(redis, page)
        redis.close()
        print(f"Redis, {args.articles} articles: {per_article:.0f} bytes per article "
              f"({per_article * 1e6 / 2**20:.0f} MiB per million articles); a cached page of 50 comments "
              f"({len(page)} bytes of JSON) {per_page:.0f} bytes")

        with psycopg.connect(db_url, autocommit=True) as conn:
            copy_comments(conn, args.copies)
            total, per_comment = postgres_per_comment(conn)
        print(f"PostgreSQL, {total} comments: " + ", ".join(f"{t} {b:.0f}" for t, b in per_comment.items())
              + f" bytes per comment; together {sum(per_comment.values()):.0f} bytes "
              f"({sum(per_comment.values()) * 1e6 / 2**30:.2f} GiB per million comments)")


def drop_database(admin: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
