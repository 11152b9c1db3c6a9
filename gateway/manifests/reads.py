"""Manifest reads: one by id, a page of them, newest first; tenant-scoped."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import paging
from gateway.kernel.errors import Problem
from gateway.manifests.tables import Manifest


def get_manifest(session: Session, tenant_id: str, manifest_id: str) -> Manifest:
    """A tenant's manifest; another tenant's id is simply not found."""
    row = session.execute(
        sa.select(Manifest).where(Manifest.id == manifest_id, Manifest.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No manifest {manifest_id!r}.")
    return row


def list_manifests(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    carrier: str | None = None,
    date: date | None = None,
    state: str | None = None,
) -> tuple[list[Manifest], str | None]:
    """One page of a tenant's manifests, newest first, and the next cursor."""
    query = sa.select(Manifest).where(Manifest.tenant_id == tenant_id)
    if carrier:
        query = query.where(Manifest.carrier == carrier)
    if date:
        query = query.where(Manifest.manifest_date == date)
    if state:
        query = query.where(Manifest.state == state)
    rows, next_cursor = paging.newest_first(session, query, Manifest, limit=limit, cursor=cursor)
    return list(rows), next_cursor
