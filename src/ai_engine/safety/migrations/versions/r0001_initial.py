"""The first schema: account snapshots, positions, fills, ESS state and audit, proposals.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("equity", sa.Float, nullable=False),
        sa.Column("hwm", sa.Float, nullable=False),
        sa.Column("drawdown", sa.Float, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("avg_price", sa.Float, nullable=False),
        sa.Column("last_price", sa.Float, nullable=False),
        sa.Column("realized_pnl", sa.Float, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("closed_at", sa.Float, nullable=True),
    )
    op.create_index("ix_positions_open", "positions", ["owner", "symbol", "closed_at"])
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("position_id", sa.String(32), sa.ForeignKey("positions.id"), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("fee", sa.Float, nullable=False),
        sa.Column("realized_pnl", sa.Float, nullable=False),
    )
    op.create_table(
        "ess_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("reset_at", sa.Float, nullable=False),
    )
    op.create_table(
        "ess_transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("release", sa.String(128), nullable=False),
        sa.Column("equity", sa.Float, nullable=False),
        sa.Column("current", sa.Float, nullable=False),
        sa.Column("raw_target", sa.Float, nullable=False),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("adding", sa.Boolean, nullable=False),
        sa.Column("ess_state", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("signal", sa.JSON, nullable=False),
        sa.Column("adjustments", sa.JSON, nullable=False),
    )
    op.create_index("ix_proposals_at", "proposals", ["at"])
    op.create_table(
        "freshness",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("last_candle_at", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "freshness",
        "proposals",
        "ess_transitions",
        "ess_state",
        "fills",
        "positions",
        "account_snapshots",
    ):
        op.drop_table(name)
