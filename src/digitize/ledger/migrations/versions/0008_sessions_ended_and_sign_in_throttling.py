"""sessions ended at sign-out, and sign-in failures counted by client address and name

`ended_sessions`: the nonces of the session cookies signed out before they expired (a saved cookie
no longer opens the staff area after its sign-out), each kept until its session would have expired.
`sign_in_failures`: failed sign-ins in a row for a name from one address, the last quarter of an
hour's; they replace the account lock (`users.failed_sign_ins` and `users.locked_until` are no
longer set): anyone could lock any account, and the lock told existing names apart.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ended_sessions',
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('nonce'),
    )
    op.create_index('ix_ended_sessions_expires', 'ended_sessions', ['expires'])
    op.create_table(
        'sign_in_failures',
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('address', 'name'),
    )
    op.create_index('ix_sign_in_failures_last_failure', 'sign_in_failures', ['last_failure'])
    op.execute("UPDATE users SET failed_sign_ins = 0, locked_until = NULL")


def downgrade() -> None:
    op.drop_index('ix_sign_in_failures_last_failure', table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
    op.drop_index('ix_ended_sessions_expires', table_name='ended_sessions')
    op.drop_table('ended_sessions')
