"""The demo's tables: people, to-do lists and to-dos, with their list indexes and row counts.

Reviewed by hand: every constraint and index is named (see NAMING_CONVENTION in
console/declare.py), every foreign key carries its ON DELETE rule and is indexed
(by an index that leads with it), and server defaults are written so that SQLite
and PostgreSQL both accept them. The schema is exactly the one the console's old
single history (0001-0004) gave these tables:

- each sortable to-do column has a (column, id) index, so that a sorted page and its
  keyset cursor (tie-broken on id) are index range scans at any depth; those also
  serve every lookup by their leading column (filters, foreign keys, ON DELETE), so
  those columns have no single-column index of their own;
- the dashboard has indexes for its per-day chart and overdue panel;
- text search has pg_trgm GIN indexes on PostgreSQL (the extension ships with
  PostgreSQL; creating it needs the usual privilege); other databases get plain
  indexes of the same name, as the models declare them;
- on PostgreSQL the database keeps each table's exact row count
  (``console.counts``; the console's own first migration must have run).

Revision ID: d0001_demo_tables
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from console import counts

revision = "d0001_demo_tables"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("person", "todo_list", "todo")
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


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        *_timestamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.UniqueConstraint("email", name="uq_person_email"),
    )
    op.create_index("ix_person_name", "person", ["name"])

    op.create_table(
        "todo_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        # RESTRICT: a person who owns lists cannot be deleted.
        sa.ForeignKeyConstraint(
            ["owner_id"], ["person.id"], name="fk_todo_list_owner_id_person", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_todo_list"),
        sa.UniqueConstraint("name", name="uq_todo_list_name"),
    )
    op.create_index("ix_todo_list_owner_id", "todo_list", ["owner_id"])

    op.create_table(
        "todo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column(
            "completed",
            sa.Boolean(create_constraint=True, name="completed_bool"),
            server_default=sa.false(),
            nullable=False,
        ),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(
                "low",
                "normal",
                "high",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            server_default="normal",
            nullable=False,
        ),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        # SET NULL: deleting a person leaves their to-dos unassigned.
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["person.id"], name="fk_todo_assignee_id_person", ondelete="SET NULL"
        ),
        # CASCADE: deleting a list deletes its to-dos, in the database.
        sa.ForeignKeyConstraint(
            ["list_id"], ["todo_list.id"], name="fk_todo_list_id_todo_list", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_todo"),
    )
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
    counts.install_row_counts(op, *TABLES)


def downgrade() -> None:
    # The extension stays: other objects may use it, and it is harmless.
    counts.remove_row_counts(op, *reversed(TABLES))
    op.drop_table("todo")
    op.drop_table("todo_list")
    op.drop_table("person")
