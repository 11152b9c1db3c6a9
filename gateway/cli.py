"""Flask CLI commands: database migrations, tenants, API keys, the worker.

Use as ``flask --app wsgi <group> <command>`` (the Makefile wraps the common ones).
"""

from __future__ import annotations

import re
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from gateway import wiring
from gateway.kernel import auth, migrate, models
from gateway.kernel.container import Container

tenants_cli = AppGroup("tenants", help="Create and list tenants.")
keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")
db_cli = AppGroup("db", help="Database migrations.")
accounts_cli = AppGroup("carrier-accounts", help="Tenants' carrier accounts: encryption keys.")
users_cli = AppGroup("users", help="Console users (people who sign in to /console/).")


def _container() -> Container:
    found: Container = current_app.extensions["handoff"]
    return found


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (creates the SQLite file on the embedded default)."""
    c = _container()
    c.engine  # noqa: B018 - creates the data directory for SQLite
    migrate.upgrade(c.database_url, revision)
    click.echo(f"database at {revision}: {c.engine.url.render_as_string(hide_password=True)}")


@tenants_cli.command("create")
@click.argument("name")
@click.option("--slug", help="URL-safe unique name (default: from NAME)")
def tenants_create(name: str, slug: str | None) -> None:
    """Create a tenant."""
    slug = slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]
    with _container().sessions() as session:
        if session.execute(sa.select(models.Tenant).where(models.Tenant.slug == slug)).first():
            raise click.ClickException(f"a tenant with slug {slug!r} already exists")
        tenant = models.Tenant(name=name, slug=slug)
        session.add(tenant)
        session.commit()
        click.echo(tenant.id)


@tenants_cli.command("list")
def tenants_list() -> None:
    """List tenants."""
    with _container().sessions() as session:
        for t in session.execute(sa.select(models.Tenant).order_by(models.Tenant.created_at)).scalars():
            click.echo(f"{t.id}\t{t.slug}\t{t.name}")


@tenants_cli.command("operator-accounts")
@click.argument("tenant_ref")
@click.argument("choice", type=click.Choice(["allow", "forbid", "show"]))
def tenants_operator_accounts(tenant_ref: str, choice: str) -> None:
    """Allow or forbid a tenant the operator's carrier accounts (CARRIERS), or show the setting."""
    from gateway.accounts import connections

    with _container().sessions() as session:
        tenant = _find_tenant(session, tenant_ref)
        if choice != "show":
            connections.set_operator_accounts(session, tenant.id, choice == "allow")
            session.commit()
        allowed = connections.operator_accounts_allowed(session, tenant.id)
        click.echo(f"{tenant.id}\toperator accounts {'allowed' if allowed else 'forbidden'}")


@accounts_cli.command("rotate-keys")
def accounts_rotate_keys() -> None:
    """Re-wrap every carrier account's secrets with the first GATEWAY_CREDENTIALS_KEYS key.

    Put the new key first and keep the old ones after it; run this; then drop the old keys.
    """
    from gateway.accounts import connections

    c = _container()
    unreadable: list[str] = []
    with c.sessions() as session:
        count = connections.rotate_keys(session, c.settings, unreadable)
        session.commit()
    click.echo(f"re-encrypted {count} carrier account(s) with the current key")
    if unreadable:
        click.echo(
            f"{len(unreadable)} account(s) no configured key opens were left as they are (already "
            f"unusable; list their old key again to rotate them): {', '.join(unreadable)}",
            err=True,
        )


def _find_tenant(session: sa.orm.Session, ref: str) -> models.Tenant:
    tenant = session.execute(
        sa.select(models.Tenant).where(sa.or_(models.Tenant.id == ref, models.Tenant.slug == ref))
    ).scalar_one_or_none()
    if tenant is None:
        raise click.ClickException(f"no tenant {ref!r}")
    return tenant


@keys_cli.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="tenant id or slug")
@click.option(
    "--roles", default="platform", show_default=True, help="comma-separated: " + ",".join(sorted(auth.ROLES))
)
@click.option("--name", default="", help="a label for the key")
@click.option(
    "--mode",
    type=click.Choice(auth.MODES),
    default="live",
    show_default=True,
    help="test: a hk_test_ key that sees only test data and buys from TEST_CARRIERS",
)
def keys_create(tenant_ref: str, roles: str, name: str, mode: str) -> None:
    """Create an API key and print it once; only its hash is stored."""
    with _container().sessions() as session:
        tenant = _find_tenant(session, tenant_ref)
        try:
            row, key = auth.create_key(
                session,
                tenant.id,
                roles.split(","),
                name=name,
                pepper=current_app.config["SECRET_PEPPER"],
                mode=mode,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"key id: {row.id}", err=True)
        click.echo("This key is shown once. Store it now:", err=True)
        click.echo(key)


@keys_cli.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="tenant id or slug")
def keys_list(tenant_ref: str) -> None:
    """List a tenant's keys (never the secrets)."""
    with _container().sessions() as session:
        tenant = _find_tenant(session, tenant_ref)
        twin = session.execute(
            sa.select(models.Tenant.id).where(models.Tenant.live_tenant_id == tenant.id)
        ).scalar_one_or_none()
        for k in session.execute(
            sa.select(models.ApiKey).where(models.ApiKey.tenant_id.in_([tenant.id, twin or tenant.id]))
        ).scalars():
            state = "revoked" if k.revoked_at else "active"
            mode = "test" if k.tenant_id == twin else "live"
            click.echo(f"{k.id}\t{mode}\t{state}\t{k.roles}\t{k.name}")


@keys_cli.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id."""
    with _container().sessions() as session:
        if not auth.revoke_key(session, key_id):
            raise click.ClickException(f"no active key {key_id!r}")
        session.commit()
        click.echo(f"revoked {key_id}")


@users_cli.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="tenant id or slug")
@click.option("--email", required=True)
@click.option(
    "--roles", default="ops", show_default=True, help="comma-separated: " + ",".join(sorted(auth.ROLES))
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from standard input (else: a prompt on a terminal, or one generated and printed once)",
)
def users_create(tenant_ref: str, email: str, roles: str, password_stdin: bool) -> None:
    """Create a console user (the first one, typically with --roles admin). The password is never logged."""
    import secrets
    import sys

    from gateway.console import accounts

    generated = False
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password, generated = secrets.token_urlsafe(18), True
    with _container().sessions() as session:
        tenant = _find_tenant(session, tenant_ref)
        try:
            user = accounts.create_user(session, tenant.id, email, password, roles.split(","), by="cli")
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"user id: {user.id} ({user.email}, roles {user.roles}, tenant {tenant.slug})", err=True)
        if generated:
            click.echo("This password is shown once. Store it now:", err=True)
            click.echo(password)


@click.command("worker")
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
def worker_command(burst: bool) -> None:
    """Run an RQ worker on every gateway queue, with the scheduler on."""
    from gateway.jobs import worker

    worker.run(current_app, burst=burst)


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the periodic tasks: the outbox relay and sweeper, polling, retention."""
    import threading

    from gateway.jobs import scheduler

    scheduler.run(current_app.extensions["handoff"], tasks=wiring.TASKS, stop=threading.Event())


@click.command("reconcile")
@click.argument("invoice_id")
@click.option("--again", is_flag=True, help="start over even if the invoice is already reconciled")
@with_appcontext
def reconcile_command(invoice_id: str, again: bool) -> None:
    """Reconcile one carrier invoice now, with a progress bar (the code the RQ job runs)."""
    from gateway.reconciliation import runs
    from gateway.reconciliation.tables import Invoice

    c = _container()
    if again:
        with c.sessions() as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None:
                raise click.ClickException(f"no invoice {invoice_id!r}")
            invoice.status, invoice.progress, invoice.report, invoice.run_owner = "queued", {}, None, None
            session.commit()
    with click.progressbar(length=1000, label=f"reconciling {invoice_id}", show_percent=True) as bar:
        shown = [0]

        def on_progress(progress: dict[str, Any]) -> None:
            target = int(progress["percent"] * 10)
            bar.label = f"{invoice_id} {progress['step']:<26}"
            bar.update(max(target - shown[0], 0))
            shown[0] = max(target, shown[0])

        report = runs.run(c.sessions, invoice_id, settings=c.settings, on_progress=on_progress)
    if report is None:
        raise click.ClickException(f"no invoice {invoice_id!r}, or another worker is reconciling it")
    totals = report["totals"]
    click.echo(
        f"{totals['lines']} lines, {totals.get('flagged_lines', 0)} flagged; recoverable "
        f"{totals['recoverable_minor']} (minor units); by class: "
        + (", ".join(f"{k} {v['lines']}" for k, v in report["by_class"].items()) or "none")
    )


def register(app: Flask) -> None:
    for group in (
        tenants_cli,
        keys_cli,
        users_cli,
        db_cli,
        accounts_cli,
        worker_command,
        scheduler_command,
        reconcile_command,
    ):
        app.cli.add_command(group)
