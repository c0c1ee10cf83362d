"""Reservations and idempotent fills: a proposal records the change of exposure it reserves
(quote notional), until when, and when it was released; a fill records its owner, the client's
``fill_id`` (unique per owner) and the answer it was given.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("reserved_notional", sa.Float, nullable=True))
    op.add_column("proposals", sa.Column("valid_until", sa.Float, nullable=True))
    op.add_column("proposals", sa.Column("released_at", sa.Float, nullable=True))
    op.add_column("proposals", sa.Column("released_by", sa.String(16), nullable=True))
    op.create_index("ix_proposals_live", "proposals", ["released_at", "valid_until"])
    op.add_column("fills", sa.Column("owner", sa.String(64), nullable=True))
    op.add_column("fills", sa.Column("fill_id", sa.String(64), nullable=True))
    op.add_column("fills", sa.Column("response", sa.JSON, nullable=True))
    op.create_index("ux_fills_owner_fill_id", "fills", ["owner", "fill_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_fills_owner_fill_id", "fills")
    with op.batch_alter_table("fills") as batch:
        for name in ("response", "fill_id", "owner"):
            batch.drop_column(name)
    op.drop_index("ix_proposals_live", "proposals")
    with op.batch_alter_table("proposals") as batch:
        for name in ("released_by", "released_at", "valid_until", "reserved_notional"):
            batch.drop_column(name)
