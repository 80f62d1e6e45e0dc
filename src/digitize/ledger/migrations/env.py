"""Alembic environment: the ledger's URL comes from the config digitize.ledger.database.upgrade builds."""

from alembic import context
from sqlalchemy import create_engine

from digitize.ledger.database import Base

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"), hide_parameters=True)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
