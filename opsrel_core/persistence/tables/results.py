"""Results and their inputs: the versions of result asset partitions and the input snapshots."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.persistence.tables.base import BigId, Base, UtcDateTime, utcnow


class ResultVersion(Base):
    """One version of a result asset partition. At most one active per partition."""

    __tablename__ = "result_version"
    __table_args__ = (
        sa.UniqueConstraint("asset_key", "partition_key", "version_number"),
        sa.UniqueConstraint("asset_key", "partition_key", "execution_id"),
        sa.Index(
            "uq_result_version_one_active",
            "asset_key",
            "partition_key",
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        ),
        sa.CheckConstraint("version_number >= 1", name="version_number_positive"),
    )
    version_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    version_number: Mapped[int] = mapped_column(sa.Integer)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    content_hash: Mapped[str] = mapped_column(sa.String(80))
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    storage_uri: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    deactivated_by_execution_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Why the activation gate left this version inactive (migration 0010); NULL otherwise.
    inactive_reason: Mapped[str | None] = mapped_column(sa.Text)


class Snapshot(Base):
    """An immutable input snapshot; ``snapshot_id`` is its content hash."""

    __tablename__ = "snapshot"
    __table_args__ = (sa.Index(None, "asset_key", "partition_key"),)
    snapshot_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    source_uri: Mapped[str] = mapped_column(sa.Text)
    storage_uri: Mapped[str] = mapped_column(sa.Text)
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    first_execution_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
