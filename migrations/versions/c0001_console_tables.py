"""The console's own tables: accounts, the audit log and the row counts.

Reviewed by hand: every constraint and index is named (see NAMING_CONVENTION in
console/declare.py), the foreign key carries its ON DELETE rule and is indexed, and
server defaults are written so that SQLite and PostgreSQL both accept them. The
tables are exactly those the console's old single history (0001-0004, which also
created the demo's tables) left; ``console.schema`` adopts a database it migrated.

``row_count_delta`` exists on every database (models and schema agree everywhere);
on PostgreSQL the row-count functions come with it (``console.counts``). This
revision counts no table: each application's tables get their triggers from their
own migrations (the demo's) or from ``console row-counts install``.

Revision ID: c0001_console_tables
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from console import counts

revision = "c0001_console_tables"
down_revision = None
branch_labels = None
depends_on = None


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
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("email", name="uq_account_email"),
    )
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
        "row_count_delta",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_count_delta")),
    )
    op.create_index("ix_row_count_delta_table_name", "row_count_delta", ["table_name"])
    counts.install_functions(op)


def downgrade() -> None:
    # Also removes the triggers of every table still counted (the functions go with them).
    counts.remove_functions(op)
    op.drop_index("ix_row_count_delta_table_name", table_name="row_count_delta")
    op.drop_table("row_count_delta")
    op.drop_table("audit_entry")
    op.drop_table("account")
