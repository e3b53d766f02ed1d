"""Alembic environment of the console's own tables (accounts, audit log, row counts).

Its version table is ``console_alembic_version``, so that the ``alembic_version`` of
the application whose tables the console manages, in the same database, never
collides with it; on PostgreSQL both live in the console's own schema (``CONSOLE_SCHEMA``). Autogenerate looks at the console's tables only (see
``console.migration_env``).
"""

from alembic import context

from console.migration_env import run
from console.models import Base
from console.own_schema import unqualified
from console.schema import CONSOLE_VERSION_TABLE

# The scripts name the tables unqualified: they run with the console's schema first in
# the search path (console.own_schema.scope), where its tables and version table live.
run(context, unqualified(Base.metadata), version_table=CONSOLE_VERSION_TABLE, own_schema=True)
