"""indexes that keep page 1 of a thread as cheap on a popular article as on a quiet one

Revision ID: 0008
Revises: 0007

The thread's sorts walk an index in their own order and stop after a page (newest and oldest by
id, top by votes then id); the published count reads (article_id, status). They replace
ix_comments_thread, whose status column sat between the article and the order.
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_comments_thread_order", "comments", ["article_id", "parent_id", "id"])
    op.create_index("ix_comments_thread_top", "comments", ["article_id", "parent_id", "votes", "id"])
    op.create_index("ix_comments_article_status", "comments", ["article_id", "status"])
    op.drop_index("ix_comments_thread", table_name="comments")


def downgrade() -> None:
    op.create_index("ix_comments_thread", "comments", ["article_id", "parent_id", "status", "id"])
    op.drop_index("ix_comments_article_status", table_name="comments")
    op.drop_index("ix_comments_thread_top", table_name="comments")
    op.drop_index("ix_comments_thread_order", table_name="comments")
