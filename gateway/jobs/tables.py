"""The transactional outbox: background work recorded in the same transaction as the change it follows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, utcnow

# pending: waiting for the relay (or for ``available_at``); enqueued: handed to RQ;
# done: the job function returned; dead: gave up after too many failures (ops can requeue).
OUTBOX_STATES = ("pending", "enqueued", "done", "dead")


class OutboxEntry(Base):
    """One job to run: a dotted job function and its id arguments. PostgreSQL is the record of intent."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_state_available_at", "state", "available_at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    queue: Mapped[str] = mapped_column(sa.String(50), default="default")
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rq_job_id: Mapped[str | None] = mapped_column(sa.String(80), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
