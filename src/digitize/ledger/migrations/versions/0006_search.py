"""search: the full-text index of the collection (digitize.search.index)

An item is `search_items` (what the filters and facets need) and one row per page with words and
one for its record: on SQLite in the FTS5 table `search_text` (the text as printed, folded, and its
pairs of words; the rowid says the item and the page), on PostgreSQL in `search_pages` (the text and
tsvector columns, the folded words and their pairs with GIN indexes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_table(
        'search_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('library', sa.String(length=64), nullable=False),
        sa.Column('item_id', sa.String(length=128), nullable=False),
        sa.Column('access', sa.String(length=16), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('language', sa.String(length=32), nullable=False),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('library', 'item_id'),
    )
    if postgres:
        op.create_table(
            'search_pages',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('item', sa.Integer(), nullable=False),
            sa.Column('page', sa.Integer(), nullable=False),  # 0: the item's record (title, creators, ...)
            sa.Column('text', sa.Text(), nullable=False),
            sa.Column('exact', postgresql.TSVECTOR(), nullable=False),
            sa.Column('folded', postgresql.TSVECTOR(), nullable=False),
            sa.Column('pairs', postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(['item'], ['search_items.id'], ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('id'),
        )
        op.create_index('ix_search_pages_item', 'search_pages', ['item'], unique=False)
        op.create_index('ix_search_pages_folded', 'search_pages', ['folded'], unique=False,
                        postgresql_using='gin')
        op.create_index('ix_search_pages_pairs', 'search_pages', ['pairs'], unique=False,
                        postgresql_using='gin')
    else:
        # rowid: the search_items id * 2**20 + the page number (0: the item's record)
        op.execute("CREATE VIRTUAL TABLE search_text USING fts5("
                   "exact, folded, pairs, tokenize = 'unicode61 remove_diacritics 0')")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_table('search_pages')
    else:
        op.execute("DROP TABLE search_text")
    op.drop_table('search_items')
