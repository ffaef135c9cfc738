"""votes, reports, shares and article activity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:29:47.156231
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('article_activity',
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('article_id', 'hour', 'kind')
    )
    with op.batch_alter_table('article_activity', schema=None) as batch_op:
        batch_op.create_index('ix_article_activity_hour', ['hour', 'kind'], unique=False)

    op.create_table('share_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('article_id', sa.String(length=128), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('share_events', schema=None) as batch_op:
        batch_op.create_index('ix_share_events_article', ['article_id', 'network'], unique=False)
        batch_op.create_index('ix_share_events_repeat', ['client', 'article_id', 'network', 'created_at'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reporter', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ux_reports_once', ['comment_id', 'reporter'], unique=True)

    op.create_table('votes',
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('voter', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], ),
    sa.PrimaryKeyConstraint('comment_id', 'voter')
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_comments_reported', ['reported_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_reported')
        batch_op.drop_column('published_at')
        batch_op.drop_column('reported_at')

    op.drop_table('votes')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ux_reports_once')

    op.drop_table('reports')
    with op.batch_alter_table('share_events', schema=None) as batch_op:
        batch_op.drop_index('ix_share_events_repeat')
        batch_op.drop_index('ix_share_events_article')

    op.drop_table('share_events')
    with op.batch_alter_table('article_activity', schema=None) as batch_op:
        batch_op.drop_index('ix_article_activity_hour')

    op.drop_table('article_activity')

