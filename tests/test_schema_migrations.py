"""The migrations build the schema the models describe, on both databases, and step back cleanly."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

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
    assert current_heads(url) == {"0009"}
    assert _differences(url) == []
