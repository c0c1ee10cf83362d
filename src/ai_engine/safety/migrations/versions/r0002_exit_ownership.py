"""Exit ownership: proposals record their owner and exits, positions their stop level and
maximum holding time, and the bot's position reports are kept.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "proposals", sa.Column("owner", sa.String(64), nullable=False, server_default="engine")
    )
    op.add_column("proposals", sa.Column("exits", sa.JSON, nullable=True))
    op.create_index("ix_proposals_owner_symbol", "proposals", ["owner", "symbol", "at"])
    op.add_column("positions", sa.Column("proposal_id", sa.Integer, nullable=True))
    op.add_column("positions", sa.Column("stop_loss", sa.Float, nullable=True))
    op.add_column("positions", sa.Column("max_holding_until", sa.Float, nullable=True))
    op.create_table(
        "position_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("positions", sa.JSON, nullable=False),
        sa.Column("differences", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("position_reports")
    with op.batch_alter_table("positions") as batch:
        for name in ("max_holding_until", "stop_loss", "proposal_id"):
            batch.drop_column(name)
    op.drop_index("ix_proposals_owner_symbol", "proposals")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("exits")
        batch.drop_column("owner")
