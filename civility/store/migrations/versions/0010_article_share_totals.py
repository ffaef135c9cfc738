"""article_share_totals: each article's share total, counted with every share

Revision ID: 0010
Revises: 0009

The statement that records a share counts it here and returns the total, so that a share needs no
Redis round trip to answer it (docs/api.md). Filled from the hourly aggregates, which sum to it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_share_totals",
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("article_id"),
    )
    op.execute("INSERT INTO article_share_totals (article_id, total) "
               "SELECT article_id, SUM(count) FROM article_activity WHERE kind <> 'comment' GROUP BY article_id")


def downgrade() -> None:
    op.drop_table("article_share_totals")
