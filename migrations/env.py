"""Alembic environment of the console's own tables (accounts, audit log, row counts).

Its version table is ``console_alembic_version``, so that the ``alembic_version`` of
the application whose tables the console manages, in the same database, never
collides with it. Autogenerate looks at the console's tables only (see
``console.migration_env``).
"""

from alembic import context

from console.migration_env import run
from console.models import Base
from console.schema import CONSOLE_VERSION_TABLE

run(context, Base.metadata, version_table=CONSOLE_VERSION_TABLE)
