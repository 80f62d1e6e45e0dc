"""items: published (when the item was first public)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published', sa.DateTime(timezone=True), nullable=True))
    # items public now were public since they were stored (the earlier history is not known)
    op.execute("UPDATE items SET published = digitized WHERE status = 'ok' AND access = 'open'")


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('published')
