"""Drop the single-column to-do indexes that migration 0002 made redundant.

Written by hand. Each of these columns leads a (column, id) index of 0002, which
serves every lookup the single-column index served (equality and range filters,
the foreign keys' joins and ON DELETE checks) and the sorted pages besides. The
extra copies only slowed every insert and update of a to-do: the bulk import
spent a third of its time keeping fourteen secondary indexes up to date.

Revision ID: 0003_drop_redundant_indexes
Revises: 0002_list_indexes
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003_drop_redundant_indexes"
down_revision = "0002_list_indexes"
branch_labels = None
depends_on = None

# (dropped index, the 0002 index that covers it, column)
REDUNDANT = [
    ("ix_todo_assignee_id", "ix_todo_assignee_id_id", "assignee_id"),
    ("ix_todo_completed", "ix_todo_completed_id", "completed"),
    ("ix_todo_due_date", "ix_todo_due_date_id", "due_date"),
    ("ix_todo_list_id", "ix_todo_list_id_id", "list_id"),
    ("ix_todo_priority", "ix_todo_priority_id", "priority"),
]


def upgrade() -> None:
    for name, _covered_by, _column in REDUNDANT:
        op.drop_index(name, table_name="todo")


def downgrade() -> None:
    for name, _covered_by, column in REDUNDANT:
        op.create_index(name, "todo", [column])
