"""acceptance by sample: a batch's samples and the findings on their pages

`batch_samples`: a random sample drawn from a batch's pages (ISO 2859-1, single sampling, normal
inspection, general inspection level II): the batch, who drew it and when, the seed (the same seed
draws the same pages), the library's AQL, the lot (its items, its size in pages), the plan (code letter, sample size,
acceptance and rejection numbers), the pages to inspect, and the decision once made (accepted or
rejected, by whom, when, the defects found). `sample_findings`: what a reviewer found on each
sampled page (defective or not, a note).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14 00:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'batch_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch', sa.String(length=1000), nullable=False),
        sa.Column('drawn', sa.DateTime(timezone=True), nullable=False),
        sa.Column('drawn_by', sa.String(length=64), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('aql', sa.Float(), nullable=False),
        sa.Column('lot_size', sa.Integer(), nullable=False),
        sa.Column('code_letter', sa.String(length=1), nullable=False),
        sa.Column('sample_size', sa.Integer(), nullable=False),
        sa.Column('acceptance_number', sa.Integer(), nullable=False),
        sa.Column('rejection_number', sa.Integer(), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('pages', sa.JSON(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False, server_default=''),
        sa.Column('decided', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('defects', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_batch_samples_batch', 'batch_samples', ['batch'])
    op.create_table(
        'sample_findings',
        sa.Column('sample', sa.Integer(), sa.ForeignKey('batch_samples.id'), nullable=False),
        sa.Column('item', sa.Integer(), sa.ForeignKey('items.id'), nullable=False),
        sa.Column('page', sa.Integer(), nullable=False),
        sa.Column('defective', sa.Boolean(), nullable=False),
        sa.Column('note', sa.String(length=2000), nullable=False, server_default=''),
        sa.Column('reviewer', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sample', 'item', 'page'),
    )


def downgrade() -> None:
    op.drop_table('sample_findings')
    op.drop_index('ix_batch_samples_batch', table_name='batch_samples')
    op.drop_table('batch_samples')
