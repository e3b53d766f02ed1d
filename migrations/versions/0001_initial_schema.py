"""Initial schema: people, to-do lists, to-dos, accounts and the audit table.

Reviewed by hand: every constraint and index is named (see NAMING_CONVENTION in
console/models/base.py), every foreign key carries its ON DELETE rule and is
indexed, and server defaults are written so that SQLite and PostgreSQL both
accept them.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


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
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "viewer",
                "editor",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            server_default="viewer",
            nullable=False,
        ),
        sa.Column(
            "active",
            sa.Boolean(create_constraint=True, name="active_bool"),
            server_default=sa.true(),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("email", name="uq_account_email"),
    )
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
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_audit_entry_account_id_account",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_account_id", "audit_entry", ["account_id"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_model", "audit_entry", ["model"])

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
    op.create_index("ix_todo_assignee_id", "todo", ["assignee_id"])
    op.create_index("ix_todo_completed", "todo", ["completed"])
    op.create_index("ix_todo_due_date", "todo", ["due_date"])
    op.create_index("ix_todo_list_id", "todo", ["list_id"])
    op.create_index("ix_todo_priority", "todo", ["priority"])


def downgrade() -> None:
    op.drop_table("todo")
    op.drop_table("todo_list")
    op.drop_table("audit_entry")
    op.drop_table("person")
    op.drop_table("account")
