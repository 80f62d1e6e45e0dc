"""batch_locks: one run per batch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'batch_locks',
        sa.Column('batch', sa.String(length=1000), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('run', sa.String(length=100), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('batch'),
    )


def downgrade() -> None:
    op.drop_table('batch_locks')
