"""review and acceptance: item and page states, their history, staff roles

`items.review_state`: in_review (awaiting review), accepted or returned; `accepted`, `accepted_by`
and `acceptance_rule` (review, sample or automatic) say when, by whom and how an item was
accepted; `review_risk` holds what orders the review queue (share of non-syllables, mean word
confidence, flagged pages, Hán-Nôm). `page_reviews`: the state of each page of an item that a
person or a rule has looked at. `review_events`: every change, with who, when and why (the item's
history, carried into its METS as PREMIS events). `users.roles`: administrator, coordinator,
reviewer, comma-separated.

Items stored before this are put in review, with an event saying so, so the coordinator sees them
in the queue; quotas then count only accepted items. Existing staff accounts become coordinators
(what they could do before: see the dashboard); an administrator gives them more roles.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items') as batch:
        batch.add_column(sa.Column('review_state', sa.String(length=16), nullable=False, server_default='in_review'))
        batch.add_column(sa.Column('accepted', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('accepted_by', sa.String(length=64), nullable=False, server_default=''))
        batch.add_column(sa.Column('acceptance_rule', sa.String(length=16), nullable=False, server_default=''))
        batch.add_column(sa.Column('review_risk', sa.JSON(), nullable=True))
        batch.create_index('ix_items_review_state', ['review_state'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('roles', sa.String(length=200), nullable=False, server_default=''))
    op.create_table(
        'page_reviews',
        sa.Column('item', sa.Integer(), sa.ForeignKey('items.id'), nullable=False),
        sa.Column('page', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('flags', sa.JSON(), nullable=True),
        sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False, server_default=''),
        sa.PrimaryKeyConstraint('item', 'page'),
    )
    op.create_table(
        'review_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item', sa.Integer(), sa.ForeignKey('items.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('state_from', sa.String(length=16), nullable=False, server_default=''),
        sa.Column('state_to', sa.String(length=16), nullable=False, server_default=''),
        sa.Column('reason', sa.String(length=2000), nullable=False, server_default=''),
        sa.Column('pages', sa.JSON(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_events_item', 'review_events', ['item'])
    op.create_index('ix_review_events_at', 'review_events', ['at'])
    op.execute("UPDATE users SET roles = 'coordinator'")
    op.execute("INSERT INTO review_events (item, at, actor, action, state_from, state_to, reason) "
               "SELECT id, CURRENT_TIMESTAMP, 'digitize', 'migrated', '', 'in_review', "
               "'stored before review and acceptance existed: awaiting review' FROM items WHERE status = 'ok'")


def downgrade() -> None:
    op.drop_index('ix_review_events_at', table_name='review_events')
    op.drop_index('ix_review_events_item', table_name='review_events')
    op.drop_table('review_events')
    op.drop_table('page_reviews')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('roles')
    with op.batch_alter_table('items') as batch:
        batch.drop_index('ix_items_review_state')
        for column in ('review_risk', 'acceptance_rule', 'accepted_by', 'accepted', 'review_state'):
            batch.drop_column(column)
