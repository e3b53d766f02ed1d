"""Background jobs (imports) and the files they read and write, in the database.

Every web instance and every worker sees the same job: its state, progress, result and
errors live in ``job``; its upload and the CSVs of its errors and changes live in
``job_file`` as chunks, so that no file that matters sits on one machine's disk.

Times are seconds since the epoch (float), written by the process that acts.
Written through Core statements only (never ORM flushes): the change history records
none of these rows; they are the console's bookkeeping, not changes anyone made.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from console.models.base import Base


class Job(Base):
    """One import (uploaded, previewed by a dry run, then perhaps committed) or one
    export made in the background (``kind``)."""

    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="import", server_default="import")
    model: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(255))
    upsert: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    # queued, running, previewed, done, failed, cancelled
    state: Mapped[str] = mapped_column(String(20), index=True)
    # preview (the dry run) or commit
    phase: Mapped[str] = mapped_column(String(10))
    created: Mapped[float] = mapped_column(Float, index=True)
    touched: Mapped[float] = mapped_column(Float)
    heartbeat: Mapped[float | None] = mapped_column(Float)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # JSON of the run's summary (counts, error count, committed)
    result: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    confirmed_at: Mapped[float | None] = mapped_column(Float)
    cancel_requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    cancel_requested_at: Mapped[float | None] = mapped_column(Float)
    # Who runs it: "host pid" of the worker (or web process, embedded).
    runner: Mapped[str | None] = mapped_column(String(200))
    # JSON of what the job needs besides its model (an export: the list's query, the BOM).
    options: Mapped[str | None] = mapped_column(Text)


class JobFile(Base):
    """One chunk of a job's file: ``upload``, ``errors``, ``changes`` or ``export``."""

    __tablename__ = "job_file"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("job.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
