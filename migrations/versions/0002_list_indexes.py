"""Indexes for big list views and the dashboard.

Written by hand. Each sortable to-do column gets a (column, id) index, so that a
sorted page and its keyset cursor (tie-broken on id) are index range scans at any
depth; the dashboard gets indexes for its per-day chart and overdue panel; text
search gets pg_trgm GIN indexes on PostgreSQL. On other databases the trigram
indexes are plain indexes of the same name, as the models declare them.

Revision ID: 0002_list_indexes
Revises: 0001_initial
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002_list_indexes"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

BTREE = [
    ("ix_todo_description_id", "todo", ["description", "id"]),
    ("ix_todo_completed_id", "todo", ["completed", "id"]),
    ("ix_todo_due_date_id", "todo", ["due_date", "id"]),
    ("ix_todo_priority_id", "todo", ["priority", "id"]),
    ("ix_todo_list_id_id", "todo", ["list_id", "id"]),
    ("ix_todo_assignee_id_id", "todo", ["assignee_id", "id"]),
    ("ix_todo_created_at", "todo", ["created_at"]),
    ("ix_todo_completed_updated_at", "todo", ["completed", "updated_at"]),
    ("ix_todo_completed_due_date", "todo", ["completed", "due_date"]),
]
TRIGRAM = [
    ("ix_todo_description_trgm", "todo", "description"),
    ("ix_todo_list_name_trgm", "todo_list", "name"),
    ("ix_person_name_trgm", "person", "name"),
    ("ix_person_email_trgm", "person", "email"),
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # Shipped with PostgreSQL (contrib); creating it needs the usual privilege.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, columns in BTREE:
        op.create_index(name, table, columns)
    for name, table, column in TRIGRAM:
        if postgres:
            op.create_index(
                name,
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
        else:
            op.create_index(name, table, [column])


def downgrade() -> None:
    # The extension stays: other objects may use it, and it is harmless.
    for name, table, _column in reversed(TRIGRAM):
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(BTREE):
        op.drop_index(name, table_name=table)
