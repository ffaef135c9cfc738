"""report origins, approved revisions, instance secrets

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(64), nullable=True))
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_revision", sa.Integer(), nullable=True))
    # A published comment whose current text a moderator decided was approved by them.
    comments = sa.table("comments", *(sa.column(name) for name in (
        "status", "revision", "approved_revision", "decided_at", "edited_at", "created_at")))
    op.execute(comments.update()
               .where(comments.c.status == "published", comments.c.decided_at.is_not(None),
                      comments.c.decided_at >= sa.func.coalesce(comments.c.edited_at, comments.c.created_at))
               .values(approved_revision=comments.c.revision))
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("instance_secrets")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("approved_revision")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("origin")
