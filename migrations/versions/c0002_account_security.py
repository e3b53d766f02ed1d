"""Account security: session tokens, two-factor sign-in, sign-in throttling.

Written by hand, self-contained (it imports nothing from the console, so it means
the same whatever the models become).

- ``account.session_token``: a random value in every session cookie of the account;
  a new value ends all of them. Existing accounts get one each, so every session
  from before this revision ends (their cookies carry no token).
- ``account.totp_secret`` / ``account.totp_last_step``: two-factor sign-in (TOTP),
  and the last time step accepted, so that a code is never accepted twice.
- ``account.failed_logins`` / ``account.locked_until`` go: the per-account lock they
  kept let anyone lock any account out. Throttling by client address and account
  now lives in ``login_throttle``, whose rows are counters over a time window (also
  the per-client rate limit of the login, and the aggregation of failed-login audit
  entries, whose entry it names).
- ``recovery_code``: one-time codes for a lost authenticator, stored as SHA-256.

SQLite alters tables in batch mode (a copy of the table); the CHECK constraints of
``account.role`` and ``account.active`` are named, and batch mode keeps them.

Revision ID: c0002_account_security
Revises: c0001_console_tables
Create Date: 2026-12-01
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "c0002_account_security"
down_revision = "c0001_console_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))

    account = sa.table("account", sa.column("id", sa.Integer), sa.column("session_token"))
    bind = op.get_bind()
    for (account_id,) in bind.execute(sa.select(account.c.id)).all():
        bind.execute(
            account.update()
            .where(account.c.id == account_id)
            .values(session_token=secrets.token_hex(16))
        )

    with op.batch_alter_table("account") as batch:
        batch.alter_column("session_token", existing_type=sa.String(length=32), nullable=False)
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audit_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["audit_entry_id"],
            ["audit_entry.id"],
            name="fk_login_throttle_audit_entry_id_audit_entry",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_index("ix_login_throttle_window_start", "login_throttle", ["window_start"])
    op.create_index("ix_login_throttle_audit_entry_id", "login_throttle", ["audit_entry_id"])

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_recovery_code_account_id_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_code"),
        # Also the index of the foreign key (its leading column).
        sa.UniqueConstraint(
            "account_id", "code_hash", name="uq_recovery_code_account_id_code_hash"
        ),
    )


def downgrade() -> None:
    op.drop_table("recovery_code")
    op.drop_index("ix_login_throttle_audit_entry_id", table_name="login_throttle")
    op.drop_index("ix_login_throttle_window_start", table_name="login_throttle")
    op.drop_table("login_throttle")
    with op.batch_alter_table("account") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
        batch.drop_column("session_token")
