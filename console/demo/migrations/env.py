"""Alembic environment of the demo application: people, to-do lists and to-dos.

An application's migrations as any user's would be: its own metadata and the
default ``alembic_version`` table. ``console init`` runs them after the console's
own (their last step installs the row-count triggers, which need the console's
``row_count_delta``).
"""

from alembic import context

from console.demo.models import DemoBase
from console.migration_env import run

run(context, DemoBase.metadata)
