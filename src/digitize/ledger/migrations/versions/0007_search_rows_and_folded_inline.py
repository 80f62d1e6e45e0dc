"""search: how many rows each item has in the index; on PostgreSQL each page's folded words kept in
the row itself (compressed)

`search_items.indexed_rows` (its pages with words and its record) lets a PostgreSQL search know how
many pages the items it may show hold, to choose how to find them (digitize.search.index._postgres_ways).

A search checks and ranks the folded words of up to tens of thousands of pages. Kept apart (TOAST,
PostgreSQL's default for a value this size), each page's words cost a lookup in another table and
its index: about five times as long as reading them from the row. Rows written before this
revision keep their words apart until `digitize index --rebuild` writes them again (the answers are
the same).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PAGE_BITS = 20  # digitize.search.index.PAGE_BITS: an FTS5 rowid is the item's id * 2**20 + the page number


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.add_column('search_items', sa.Column('indexed_rows', sa.Integer(), nullable=False, server_default='0'))
    if postgres:
        op.execute("ALTER TABLE search_pages ALTER COLUMN folded SET STORAGE MAIN")
        op.execute("UPDATE search_items SET indexed_rows = counted.n FROM (SELECT item, count(*) AS n "
                   "FROM search_pages GROUP BY item) AS counted WHERE counted.item = search_items.id")
    else:
        op.execute(f"UPDATE search_items SET indexed_rows = (SELECT count(*) FROM search_text WHERE search_text.rowid "
                   f"BETWEEN search_items.id << {PAGE_BITS} AND ((search_items.id + 1) << {PAGE_BITS}) - 1)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE search_pages ALTER COLUMN folded SET STORAGE EXTENDED")
    with op.batch_alter_table('search_items') as batch:
        batch.drop_column('indexed_rows')
