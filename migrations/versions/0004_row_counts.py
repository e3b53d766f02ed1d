"""Exact row counts of todo, todo_list and person, kept by the database.

Written by hand. A PostgreSQL b-tree keeps no subtree counts, so row k of an
ordering costs O(k) from the front; an exact total lets a deep page be read from
the back instead, and ``count(*)`` at a million rows costs 40-60 ms. So the
database keeps the count:

- ``row_count_delta``: one row ``(table, delta)`` per INSERT or DELETE statement,
  appended by AFTER ... FOR EACH STATEMENT triggers that count the statement's
  transition table. A delta row commits or rolls back with the rows it counts, so
  ``sum(delta)`` is the exact row count in every snapshot, and no writer ever
  updates a shared row: concurrent writers never wait on each other. ON DELETE
  CASCADE deletes are statements too and are counted.
- The triggers are ENABLE ALWAYS: they fire under ``session_replication_role =
  replica`` as well, which the bulk import sets to skip the foreign-key triggers.
- TRUNCATE resets the table's deltas to one row of 0. TRUNCATE holds ACCESS
  EXCLUSIVE, so every writer of the table has ended before the trigger runs, and
  under READ COMMITTED the trigger's DELETE takes a fresh snapshot that sees every
  delta they committed. Under REPEATABLE READ its snapshot may predate a writer's
  commit (whose delta would survive the reset), so the trigger refuses there.
- ``row_count_compact(table)`` folds a table's deltas into one row: it deletes the
  rows it can lock at once (FOR UPDATE SKIP LOCKED, so never waiting on another
  compaction) and inserts their sum in the same statement, so readers see either
  all the old rows or the one new row. It holds ACCESS SHARE on the counted table,
  which writers ignore and TRUNCATE waits for. The insert and delete triggers run
  it for about one statement in a hundred (under READ COMMITTED only: under
  REPEATABLE READ a row folded by a concurrent compaction would be a serialization
  error in the user's write).
- The counts are seeded with ``count(*)`` while the tables are locked against
  writers (SHARE ROW EXCLUSIVE, which CREATE TRIGGER needs anyway) until the
  triggers exist: the count is exact from the start.

Other databases get the table only (models and schema agree everywhere); they
count with ``count(*)``.

Revision ID: 0004_row_counts
Revises: 0003_drop_redundant_indexes
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_row_counts"
down_revision = "0003_drop_redundant_indexes"
branch_labels = None
depends_on = None

TABLES = ("person", "todo_list", "todo")

FUNCTIONS = [
    (
        "row_count_compact(target text)",
        """
        RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            folded bigint;
        BEGIN
            -- Writers (ROW EXCLUSIVE) pass; a TRUNCATE (ACCESS EXCLUSIVE) of the table
            -- waits, so its reset never races a fold.
            EXECUTE format('LOCK TABLE %I IN ACCESS SHARE MODE', target);
            WITH gone AS (
                DELETE FROM row_count_delta
                WHERE id IN (
                    SELECT id FROM row_count_delta WHERE table_name = target
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING delta
            ), summed AS (
                INSERT INTO row_count_delta (table_name, delta)
                SELECT target, sum(delta) FROM gone HAVING count(*) > 0
            )
            SELECT count(*) INTO folded FROM gone;
            RETURN folded;
        END
        $$
        """,
    ),
    (
        "row_count_added()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_delta (table_name, delta)
            SELECT TG_TABLE_NAME, count(*) FROM added_rows HAVING count(*) > 0;
            IF random() < 0.01
               AND current_setting('transaction_isolation') = 'read committed' THEN
                PERFORM row_count_compact(TG_TABLE_NAME);
            END IF;
            RETURN NULL;
        END
        $$
        """,
    ),
    (
        "row_count_removed()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_delta (table_name, delta)
            SELECT TG_TABLE_NAME, -count(*) FROM removed_rows HAVING count(*) > 0;
            IF random() < 0.01
               AND current_setting('transaction_isolation') = 'read committed' THEN
                PERFORM row_count_compact(TG_TABLE_NAME);
            END IF;
            RETURN NULL;
        END
        $$
        """,
    ),
    (
        "row_count_truncated()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('transaction_isolation') <> 'read committed' THEN
                RAISE EXCEPTION 'TRUNCATE % needs READ COMMITTED to reset its row count',
                    TG_TABLE_NAME;
            END IF;
            DELETE FROM row_count_delta WHERE table_name = TG_TABLE_NAME;
            INSERT INTO row_count_delta (table_name, delta) VALUES (TG_TABLE_NAME, 0);
            RETURN NULL;
        END
        $$
        """,
    ),
]

# (trigger, event and transition table, function)
TRIGGERS = [
    ("row_count_insert", "AFTER INSERT", "REFERENCING NEW TABLE AS added_rows", "row_count_added"),
    ("row_count_delete", "AFTER DELETE", "REFERENCING OLD TABLE AS removed_rows",
     "row_count_removed"),
    ("row_count_truncate", "AFTER TRUNCATE", "", "row_count_truncated"),
]


def upgrade() -> None:
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
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature, body in FUNCTIONS:
        op.execute(f"CREATE FUNCTION {signature} {body}")
    # Writers wait from here to commit: nothing changes between the count and the triggers.
    op.execute(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE")
    for table in TABLES:
        op.execute(
            # Constant table names, not input.
            f"INSERT INTO row_count_delta (table_name, delta) SELECT '{table}', count(*) "  # noqa: S608
            f"FROM {table}"
        )
        for name, event, referencing, function in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in reversed(TABLES):
            for name, _event, _referencing, _function in reversed(TRIGGERS):
                op.execute(f"DROP TRIGGER {name} ON {table}")
        for signature, _body in reversed(FUNCTIONS):
            op.execute(f"DROP FUNCTION {signature.split('(')[0]}")
    op.drop_index("ix_row_count_delta_table_name", table_name="row_count_delta")
    op.drop_table("row_count_delta")
