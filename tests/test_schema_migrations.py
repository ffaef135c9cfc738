"""The migrations build the schema the models describe, on both databases, and step back cleanly."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from civility.store.db import normalise_url
from civility.store.migrate import alembic_config, current_heads, upgrade
from civility.store.models import Base


def _differences(url: str) -> list:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()


def _share_event_indexes(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return {index["name"] for index in inspect(engine).get_indexes("share_events")}
    finally:
        engine.dispose()


def test_the_migrated_schema_is_the_models_schema(database_url):
    assert _differences(database_url) == []


def test_shares_keep_only_the_index_their_queries_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'steps.db'}"
    upgrade(url, "0008")
    assert _share_event_indexes(url) == {"ix_share_events_repeat", "ix_share_events_article"}
    upgrade(url)
    assert _share_event_indexes(url) == {"ix_share_events_repeat"}
    command.downgrade(alembic_config(url), "0008")
    assert _share_event_indexes(url) == {"ix_share_events_repeat", "ix_share_events_article"}
    upgrade(url)
    assert _differences(url) == []


def test_share_totals_start_from_the_hourly_counts(database_url):
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE article_share_totals"))
            connection.execute(text("UPDATE alembic_version SET version_num = '0009'"))
            connection.execute(text(
                "INSERT INTO article_activity (article_id, hour, kind, count) VALUES "
                "('news/a', '2026-12-01 09:00:00', 'x', 3), ('news/a', '2026-12-01 10:00:00', 'x', 2), "
                "('news/a', '2026-12-01 10:00:00', 'email', 1), ('news/a', '2026-12-01 10:00:00', 'comment', 40), "
                "('news/b', '2026-12-01 10:00:00', 'comment', 5)"))
        upgrade(database_url)
        assert current_heads(database_url) == {"0010"}
        with engine.connect() as connection:
            totals = connection.execute(text("SELECT article_id, total FROM article_share_totals")).all()
        assert totals == [("news/a", 6)]
    finally:
        engine.dispose()
