"""Alembic environment: migrations run only on the connection cds_hooks.database hands over."""
from alembic import context

from cds_hooks.database import metadata

connection = context.config.attributes["connection"]
# Batch mode lets SQLite, which cannot ALTER most things, take the same migrations as PostgreSQL.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
