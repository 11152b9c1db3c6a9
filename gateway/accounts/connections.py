"""Carrier accounts of a tenant: create, list, read, update, delete, test; the tenant-aware registry.

Use cases take a session and flush, never commit. Secrets go in once and never come out: they are
stored sealed (``_crypto``) and shown as the names of the secret fields with a mask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base as adapter_base
from adapters import registry as adapter_registry
from gateway.accounts import _crypto
from gateway.accounts.tables import CarrierAccount, CarrierAccountPolicy
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

PREFIX = "cac_"
# Values of an adapter's ``environment`` option that reach a carrier's production systems.
LIVE_ENVIRONMENTS = frozenset({"live", "production", "prod"})
# Carriers that are not accounts at a carrier (the own fleet is configured by the operator only).
NOT_ACCOUNTS = frozenset({"fleet"})


# --- reading and writing rows ------------------------------------------------------------------------


def _adapter_class(carrier: str) -> type[adapter_base.Adapter]:
    if carrier in NOT_ACCOUNTS:
        raise Problem(
            "validation-error",
            f"{carrier!r} is not a carrier account.",
            errors={"carrier": ["not a carrier with accounts"]},
        )
    try:
        return adapter_registry.adapter_class(carrier)
    except adapter_registry.RegistryError:
        raise Problem(
            "validation-error",
            f"No carrier adapter named {carrier!r}.",
            errors={"carrier": [f"one of {sorted(set(adapter_registry.available()) - NOT_ACCOUNTS)}"]},
        ) from None


def _build(
    cls: type[adapter_base.Adapter], config: Mapping[str, Any], recorder: Any = None
) -> adapter_base.Adapter:
    try:
        return cls(config, recorder=recorder)
    except adapter_base.ConfigurationError as exc:
        # validate_config's messages name fields and validators, never a value.
        raise Problem("validation-error", str(exc), errors={"config": [str(exc)]}) from None
    except (TypeError, ValueError) as exc:
        raise Problem(
            "validation-error",
            f"The {cls.name} configuration is not usable.",
            errors={"config": [type(exc).__name__]},
        ) from None


def _split(
    cls: type[adapter_base.Adapter], config: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    secret = cls.secret_fields()
    options = {k: v for k, v in config.items() if k not in secret}
    secrets = {k: v for k, v in config.items() if k in secret}
    return options, secrets


def full_config(settings: Mapping[str, Any], row: CarrierAccount) -> dict[str, Any]:
    """The adapter configuration of an account, secrets decrypted (never to be shown or logged)."""
    return {**row.options, **_crypto.open_sealed(settings, row.secrets_ciphertext, row.wrapped_key)}


def _with_account_number(
    cls: type[adapter_base.Adapter], config: dict[str, Any], account_number: str | None
) -> dict[str, Any]:
    props = cls.get_config_schema().get("properties", {})
    if account_number and "account_number" in props and "account_number" not in config:
        return {**config, "account_number": account_number}
    return config


def _account_number(adapter: adapter_base.Adapter, given: str | None) -> str | None:
    """The account number the adapter uses (its config's), else the one given."""
    return adapter.account_id if adapter.account_id != adapter.name else given


def _make_default(session: Session, row: CarrierAccount) -> None:
    session.execute(
        sa.update(CarrierAccount)
        .where(
            CarrierAccount.tenant_id == row.tenant_id,
            CarrierAccount.carrier == row.carrier,
            CarrierAccount.id != row.id,
            CarrierAccount.is_default.is_(True),
        )
        .values(is_default=False)
    )
    row.is_default = True


def _refuse_live_in_test_mode(session: Session, tenant_id: str, config: Mapping[str, Any]) -> None:
    """A test key's account must not reach a carrier's production: its purchases would be real."""
    tenant = session.get(models.Tenant, tenant_id)
    if (
        tenant is not None
        and tenant.is_test
        and str(config.get("environment", "")).lower() in LIVE_ENVIRONMENTS
    ):
        raise Problem(
            "validation-error",
            "A test-mode carrier account cannot use the carrier's live environment: its labels would be "
            "real purchases. Use the sandbox (or a simulator base_url), or create the account with a live key.",
            errors={"config.environment": ["must be the carrier's sandbox in test mode"]},
        )


def create_account(
    session: Session, settings: Mapping[str, Any], tenant_id: str, data: Mapping[str, Any]
) -> CarrierAccount:
    """Validate the configuration by building the adapter, seal its secrets, store the account."""
    cls = _adapter_class(data["carrier"])
    config = _with_account_number(cls, dict(data.get("config") or {}), data.get("account_number"))
    _refuse_live_in_test_mode(session, tenant_id, config)
    adapter = _build(cls, config)
    options, secrets = _split(cls, config)
    ciphertext, wrapped, kid = _crypto.seal(settings, secrets)
    row = CarrierAccount(
        tenant_id=tenant_id,
        carrier=cls.name,
        label=data.get("label") or "",
        account_number=_account_number(adapter, data.get("account_number")),
        options=options,
        secrets_ciphertext=ciphertext,
        wrapped_key=wrapped,
        key_id=kid,
        secret_fields=sorted(secrets),
        enabled=bool(data.get("enabled", True)),
        is_default=False,
        version=1,
    )
    session.add(row)
    session.flush()
    has_default = session.execute(
        sa.select(sa.func.count())
        .select_from(CarrierAccount)
        .where(
            CarrierAccount.tenant_id == tenant_id,
            CarrierAccount.carrier == row.carrier,
            CarrierAccount.is_default.is_(True),
        )
    ).scalar_one()
    if data.get("is_default") or not has_default:
        _make_default(session, row)
    session.flush()
    return row


def list_accounts(session: Session, tenant_id: str, carrier: str | None = None) -> list[CarrierAccount]:
    query = sa.select(CarrierAccount).where(CarrierAccount.tenant_id == tenant_id)
    if carrier:
        query = query.where(CarrierAccount.carrier == carrier)
    return list(session.execute(query.order_by(CarrierAccount.created_at, CarrierAccount.id)).scalars())


def get_account(session: Session, tenant_id: str, account_id: str) -> CarrierAccount:
    row = session.execute(
        sa.select(CarrierAccount).where(
            CarrierAccount.id == account_id, CarrierAccount.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No carrier account {account_id!r}.")
    return row


def _check_if_match(row: CarrierAccount, if_match: str | None) -> None:
    if not if_match:
        return
    wanted = {v.strip().removeprefix("W/").strip('"') for v in if_match.split(",")}
    if "*" not in wanted and str(row.version) not in wanted:
        raise Problem(
            "precondition-failed",
            f"Carrier account {row.id} is at version {row.version}, not {if_match}.",
            extra={"version": row.version},
        )


def update_account(
    session: Session,
    settings: Mapping[str, Any],
    tenant_id: str,
    account_id: str,
    data: Mapping[str, Any],
    *,
    if_match: str | None = None,
) -> CarrierAccount:
    """Change label, enabled, default flag or configuration (a secret given replaces the stored one)."""
    row = get_account(session, tenant_id, account_id)
    _check_if_match(row, if_match)
    changed = False
    cls = _adapter_class(row.carrier)
    changes = dict(data.get("config") or {})
    number = data.get("account_number")
    if number is not None and "account_number" in cls.get_config_schema().get("properties", {}):
        changes.setdefault("account_number", number)
    if changes:
        config = full_config(settings, row)
        for key, value in changes.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        _refuse_live_in_test_mode(session, tenant_id, config)
        adapter = _build(cls, config)
        options, secrets = _split(cls, config)
        row.options = options
        row.secrets_ciphertext, row.wrapped_key, row.key_id = _crypto.seal(settings, secrets)
        row.secret_fields = sorted(secrets)
        row.account_number = _account_number(adapter, number or row.account_number)
        changed = True
    elif number is not None and number != row.account_number:
        row.account_number = number
        changed = True
    if data.get("label") is not None and data["label"] != row.label:
        row.label = data["label"]
        changed = True
    if data.get("enabled") is not None and bool(data["enabled"]) != row.enabled:
        row.enabled = bool(data["enabled"])
        changed = True
    if data.get("is_default") is True and not row.is_default:
        _make_default(session, row)
        changed = True
    elif data.get("is_default") is False and row.is_default:
        row.is_default = False
        changed = True
    if changed:
        row.version += 1
        row.updated_at = utcnow()
    session.flush()
    return row


def delete_account(session: Session, tenant_id: str, account_id: str, *, if_match: str | None = None) -> None:
    row = get_account(session, tenant_id, account_id)
    _check_if_match(row, if_match)
    session.delete(row)
    session.flush()


def test_account(container: Container, session: Session, tenant_id: str, account_id: str) -> dict[str, Any]:
    """Authenticate with the carrier using the account's credentials; what was found, never a secret."""
    row = get_account(session, tenant_id, account_id)
    adapter = _adapter(container, row)
    result: dict[str, Any] = {"id": row.id, "carrier": row.carrier, "account_number": row.account_number}
    try:
        report = adapter.test_connection()
    except adapter_base.CapabilityNotSupported:
        return {
            **result,
            "ok": False,
            "outcome": "unsupported",
            "code": None,
            "message": f"{row.carrier} offers no cheap authenticated call to test with.",
        }
    except adapter_base.CarrierUnavailable as exc:
        return {
            **result,
            "ok": False,
            "outcome": "unavailable",
            "code": exc.code,
            "message": str(adapter.redact(exc.message)),
        }
    except adapter_base.CarrierRejected as exc:
        return {
            **result,
            "ok": False,
            "outcome": "rejected",
            "code": exc.code,
            "message": str(adapter.redact(exc.message)),
        }
    return {
        **result,
        "ok": True,
        "outcome": "authenticated",
        "code": None,
        "message": str(adapter.redact(report.message)),
    }


# --- operator fallback and key rotation -------------------------------------------------------------


def operator_accounts_allowed(session: Session, tenant_id: str) -> bool:
    """Whether the tenant may use the operator's accounts (CARRIERS); allowed unless the operator forbade it."""
    row = session.get(CarrierAccountPolicy, tenant_id)
    return True if row is None else bool(row.operator_accounts)


def set_operator_accounts(session: Session, tenant_id: str, allowed: bool) -> None:
    """Allow or forbid a tenant the operator's accounts (operator only: the CLI)."""
    row = session.get(CarrierAccountPolicy, tenant_id)
    if row is None:
        session.add(CarrierAccountPolicy(tenant_id=tenant_id, operator_accounts=allowed))
    else:
        row.operator_accounts = allowed
    session.flush()


def rotate_keys(session: Session, settings: Mapping[str, Any], unreadable: list[str] | None = None) -> int:
    """Re-wrap every account's data key with the first CREDENTIALS_KEYS key; returns how many changed.

    An account no configured key opens is left as it is (it was unusable before, and stays so until its
    key is listed again) and its id added to ``unreadable``: one such account does not stop the others.
    """
    current = _crypto.key_id(_crypto.keys(settings)[0])
    count = 0
    for row in session.execute(sa.select(CarrierAccount).where(CarrierAccount.key_id != current)).scalars():
        try:
            row.wrapped_key, row.key_id = _crypto.rewrap(settings, row.wrapped_key)
        except Problem:
            log.warning(
                "carrier account sealed with a key no longer configured", extra={"account_id": row.id}
            )
            if unreadable is not None:
                unreadable.append(row.id)
            continue
        count += 1
    session.flush()
    return count


# --- the tenant-aware registry -----------------------------------------------------------------------

_CACHE: dict[tuple[str, int], tuple[Any, adapter_base.Adapter]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 1024


def adapter_key(row: CarrierAccount) -> str:
    """The registry id of a tenant account: unique across tenants and versions (live-rate cache keys)."""
    return f"{row.id}.v{row.version}"


def account_of_key(key: str) -> str | None:
    """The account id inside a registry id made by ``adapter_key`` (None: an operator's account)."""
    if not key.startswith(PREFIX):
        return None
    return key.split(".v", 1)[0]


def _adapter(container: Container, row: CarrierAccount) -> adapter_base.Adapter:
    recorder = container.exchange_recorder
    cache_key = (row.id, row.version)
    with _CACHE_LOCK:
        cached = _CACHE.get(cache_key)
    if cached is not None and cached[0] is recorder:
        return cached[1]
    cls = _adapter_class(row.carrier)
    adapter = _build(cls, full_config(container.settings, row), recorder)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[cache_key] = (recorder, adapter)
    return adapter


def operator_registry(session: Session, container: Container, tenant_id: str) -> adapter_registry.Registry:
    """The operator's accounts this tenant's mode uses: ``CARRIERS`` for live, ``TEST_CARRIERS`` for test."""
    tenant = session.get(models.Tenant, tenant_id)
    registry: adapter_registry.Registry = container.carriers_for_mode(
        tenant.mode if tenant is not None else "live"
    )
    return registry


def operator_registry_of(container: Container, tenant_id: str) -> adapter_registry.Registry:
    """``operator_registry`` read in a session of its own."""
    with container.sessions() as session:
        return operator_registry(session, container, tenant_id)


def account_adapter(container: Container, row: CarrierAccount) -> adapter_base.Adapter:
    """The (cached) adapter of one tenant account, whatever its state (enabled or not)."""
    return _adapter(container, row)


def registry_for(
    session: Session, container: Container, tenant_id: str, *, defaults_only: bool = False
) -> adapter_registry.Registry:
    """The adapters a tenant uses: its enabled accounts, plus the operator's when the tenant may use them.

    With ``defaults_only`` (rating), one account per carrier: the tenant's default (else its first)
    enabled account, and the operator's accounts only for carriers the tenant has none of.
    """
    rows = [
        r
        for r in session.execute(
            sa.select(CarrierAccount)
            .where(CarrierAccount.tenant_id == tenant_id, CarrierAccount.enabled.is_(True))
            .order_by(CarrierAccount.is_default.desc(), CarrierAccount.created_at, CarrierAccount.id)
        ).scalars()
    ]
    operator = operator_registry(session, container, tenant_id)
    if not rows:
        if operator_accounts_allowed(session, tenant_id):
            return operator  # unchanged behaviour for a tenant without accounts of its own
        return adapter_registry.Registry({})
    own: dict[str, adapter_base.Adapter] = {}
    carriers: set[str] = set()
    for row in rows:
        if defaults_only and row.carrier in carriers:
            continue
        carriers.add(row.carrier)
        own[adapter_key(row)] = _adapter(container, row)
    adapters: dict[str, adapter_base.Adapter] = {}
    if operator_accounts_allowed(session, tenant_id):
        for key in operator:
            candidate = operator.get(key)
            if defaults_only and candidate.name in carriers:
                continue
            adapters[key] = candidate
    adapters.update(own)
    return adapter_registry.Registry(adapters)


def adapter_for(
    session: Session, container: Container, tenant_id: str, carrier_code: str, account_id: str | None = None
) -> adapter_base.Adapter | None:
    """The adapter to buy or void a shipment's label with: the account it was rated on, else the
    tenant's default (else first) enabled account of that carrier, else the operator's (by id, then by
    name) when the tenant may use them."""
    query = sa.select(CarrierAccount).where(
        CarrierAccount.tenant_id == tenant_id, CarrierAccount.enabled.is_(True)
    )
    if account_id:
        row = session.execute(query.where(CarrierAccount.id == account_id)).scalar_one_or_none()
        if row is not None:
            return _adapter(container, row)
    row = session.execute(
        query.where(CarrierAccount.carrier == carrier_code)
        .order_by(CarrierAccount.is_default.desc(), CarrierAccount.created_at, CarrierAccount.id)
        .limit(1)
    ).scalar_one_or_none()
    if row is not None:
        return _adapter(container, row)
    if not operator_accounts_allowed(session, tenant_id):
        return None
    operator = operator_registry(session, container, tenant_id)
    try:
        found: adapter_base.Adapter = operator.get(carrier_code)
        return found
    except adapter_base.AdapterError:  # RegistryError: no adapter with this id; try by adapter name
        for key in operator:
            candidate = operator.get(key)
            if candidate.name == carrier_code:
                return candidate
    return None


def adapter_of_label(
    session: Session,
    container: Container,
    tenant_id: str,
    carrier_code: str,
    account_number: str,
    account_id: str | None = None,
) -> adapter_base.Adapter | None:
    """The adapter of the account a label was bought on (``Label.account``), enabled or not.

    A label is voided where it was bought: a tenant account disabled since still voids its own labels,
    and no other account stands in for it. None when neither the tenant nor the operator (of the tenant's
    mode) has an account with that number any more.
    """
    rows = session.execute(
        sa.select(CarrierAccount)
        .where(CarrierAccount.tenant_id == tenant_id, CarrierAccount.carrier == carrier_code)
        .order_by((CarrierAccount.id == (account_id or "")).desc(), CarrierAccount.created_at)
    ).scalars()
    for row in rows:
        try:
            adapter = _adapter(container, row)
        except Problem:  # its stored configuration no longer loads: not this one
            continue
        if adapter.account_id == account_number:
            return adapter
    operator = operator_registry(session, container, tenant_id)
    for key in operator:
        candidate = operator.get(key)
        if carrier_code in (key, candidate.name) and candidate.account_id == account_number:
            return candidate
    return None


def registry_for_shipment(session: Session, container: Container, shipment: Any) -> adapter_registry.Registry:
    """The adapters to act on one shipment with: the operator's (unchanged) for a tenant without accounts
    of its own; otherwise just the adapter ``adapter_for`` picks (the account the shipment was rated on)."""
    registry = registry_for(session, container, shipment.tenant_id)
    if registry is operator_registry(session, container, shipment.tenant_id):
        return registry
    adapter = adapter_for(
        session, container, shipment.tenant_id, shipment.carrier or "", shipment.carrier_account_id
    )
    return adapter_registry.Registry({} if adapter is None else {shipment.carrier or "account": adapter})
