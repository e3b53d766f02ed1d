"""Background jobs in the database: the job table, its files, and the job queue.

Written by hand, self-contained apart from the queue library's own schema.

- ``job``: one import (uploaded, previewed, committed) or export (a file made in the
  background): state, progress, result, who confirmed or cancelled it, and the
  heartbeat of the process running it.
- ``job_file``: the upload, the CSVs of a job's errors and changes and an export's
  file, as chunks, so that every web instance and every worker reads the same files.
- On PostgreSQL, the schema of procrastinate (the job queue ``console worker`` reads),
  installed from the library's own ``schema.sql`` into the console's schema (this
  script runs with that schema as the search path). The version is pinned in
  pyproject.toml; a newer procrastinate brings its own migration scripts, which a
  later revision of ours applies.

Revision ID: c0004_jobs
Revises: c0003_grid_views
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "c0004_jobs"
down_revision = "c0003_grid_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), server_default="import", nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("upsert", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("touched", sa.Float(), nullable=False),
        sa.Column("heartbeat", sa.Float(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.Float(), nullable=True),
        sa.Column("cancel_requested_by", sa.Integer(), nullable=True),
        sa.Column("cancel_requested_at", sa.Float(), nullable=True),
        sa.Column("runner", sa.String(length=200), nullable=True),
        sa.Column("options", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"],
                                name="fk_job_account_id_account", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["confirmed_by"], ["account.id"],
                                name="fk_job_confirmed_by_account", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["cancel_requested_by"], ["account.id"],
                                name="fk_job_cancel_requested_by_account", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
    )
    op.create_index("ix_job_account_id", "job", ["account_id"])
    op.create_index("ix_job_confirmed_by", "job", ["confirmed_by"])
    op.create_index("ix_job_cancel_requested_by", "job", ["cancel_requested_by"])
    op.create_index("ix_job_state", "job", ["state"])
    op.create_index("ix_job_created", "job", ["created"])
    op.create_table(
        "job_file",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name="fk_job_file_job_id_job",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "name", "seq", name="pk_job_file"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Uploads are stored as they came and read back whole: compressing each chunk
        # (TOAST's default) made storing a CSV upload 1.5 times as slow (bench_job_files).
        op.execute("ALTER TABLE job_file ALTER COLUMN data SET STORAGE EXTERNAL")
        from procrastinate.schema import SchemaManager

        # As procrastinate's own apply_schema does: the driver formats "%" even with no
        # parameters.
        op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Everything procrastinate's schema made, in the console's schema (the search path).
        for kind, sql in (
            ("TABLE", "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"),
            ("FUNCTION", "SELECT p.oid::regprocedure::text FROM pg_proc p "
                         "WHERE p.pronamespace = current_schema()::regnamespace"),
            # Enums and the standalone row type (the tables' own went with them).
            ("TYPE", "SELECT t.typname FROM pg_type t WHERE t.typnamespace = "
                     "current_schema()::regnamespace AND t.typtype IN ('e', 'c')"),
        ):
            for (name,) in bind.execute(sa.text(sql)).all():
                if name.split(".")[-1].startswith("procrastinate_"):
                    op.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
    op.drop_table("job_file")
    op.drop_index("ix_job_created", table_name="job")
    op.drop_index("ix_job_state", table_name="job")
    op.drop_index("ix_job_cancel_requested_by", table_name="job")
    op.drop_index("ix_job_confirmed_by", table_name="job")
    op.drop_index("ix_job_account_id", table_name="job")
    op.drop_table("job")
