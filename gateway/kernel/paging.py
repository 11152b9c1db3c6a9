"""Keyset pages, newest first: the cursor after a row is its creation instant and id.

Every list endpoint pages the same way: rows ordered by ``(created_at, id)`` descending, one more
row than the page fetched to know whether another page follows, and an opaque cursor
``<microseconds since 1970 UTC>.<id>`` (what ``schemas.CURSOR_PATTERN`` declares) naming the last
row shown. Offsets would skip or repeat rows as new ones arrive; a keyset never does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.kernel.schemas import CURSOR_PATTERN

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(created_at: datetime, row_id: str) -> str:
    """The cursor after this row: ``<microseconds since 1970 UTC>.<id>``, what CURSOR_PATTERN declares."""
    when = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    return f"{(when - _EPOCH) // _MICROSECOND}.{row_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The instant and id a cursor names; a string the pattern does not match is a 400.

    Any string it matches is a cursor (16 digits of microseconds stay within years 1653 to 2286;
    ids are ASCII letters, digits and _), so a well-formed cursor never fails, at worst naming an
    empty page.
    """
    if not _CURSOR.fullmatch(cursor):
        raise Problem("bad-request", "The cursor is not valid.", errors={"cursor": ["invalid"]})
    micros, row_id = cursor.split(".", 1)
    return _EPOCH + int(micros) * _MICROSECOND, row_id


def newest_first(
    session: Session,
    query: sa.Select[Any],
    entity: Any,
    *,
    limit: int,
    cursor: str | None,
    unique: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """One page of ``query`` (rows of ``entity``, which has ``created_at`` and ``id``) and the next cursor.

    ``unique``: the query joins eager collections, so rows are de-duplicated as SQLAlchemy requires.
    """
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(entity.created_at < when, sa.and_(entity.created_at == when, entity.id < row_id))
        )
    result = session.execute(query.order_by(entity.created_at.desc(), entity.id.desc()).limit(limit + 1))
    rows = list((result.unique() if unique else result).scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id)
