"""drop ix_share_events_article, which no query reads and every share paid for

Revision ID: 0009
Revises: 0008

Share totals and trending read the hourly aggregates (article_activity), never share_events by
article; the repeat check, a reader's export and erasure use ix_share_events_repeat (client first).
Each share wrote this index all the same: on SQLite under the write lock.
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_share_events_article", table_name="share_events")


def downgrade() -> None:
    op.create_index("ix_share_events_article", "share_events", ["article_id", "network"])
