"""The grid's saved layouts and named views, per account and model.

Written by hand, self-contained (it imports nothing from the console, so it means
the same whatever the models become).

- ``grid_view``: one row per account, model (its endpoint) and name. The name ``''``
  is the column layout the grid opens with (order, hidden columns, widths: JSON text
  in ``layout``); any other name a saved view, which also keeps the list's search,
  filters and sort (``args``, JSON text). An account's rows go with it (CASCADE).

Revision ID: c0003_grid_views
Revises: c0002_account_security
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "c0003_grid_views"
down_revision = "c0002_account_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_grid_view_account_id_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_grid_view"),
        # Also the index of the foreign key (its leading column).
        sa.UniqueConstraint(
            "account_id", "model", "name", name="uq_grid_view_account_id_model_name"
        ),
    )


def downgrade() -> None:
    op.drop_table("grid_view")
