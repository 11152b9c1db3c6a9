"""Settings, the factory's no-I/O promise, and exact money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway import create_app
from gateway.kernel import config
from schemas import money


def test_prefixed_environment_overrides_defaults_and_overrides_win():
    env = {
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "10",
        "GATEWAY_LOG_JSON": "false",
        "DATABASE_URL": "postgres://u@h/db",
    }
    settings = config.load(env, overrides={"RATE_LIMIT_PER_MINUTE": 5})
    assert settings["RATE_LIMIT_PER_MINUTE"] == 5
    assert settings["LOG_JSON"] is False
    assert config.database_url(settings) == "postgresql+psycopg://u@h/db"


def test_a_bad_setting_is_a_clear_error():
    with pytest.raises(config.ConfigError, match="GATEWAY_MAX_CONTENT_LENGTH must be an integer"):
        config.load({"GATEWAY_MAX_CONTENT_LENGTH": "lots"})


def test_without_a_database_url_the_default_is_a_sqlite_file_in_the_data_dir(tmp_path):
    url = config.database_url(config.load({}, overrides={"DATA_DIR": str(tmp_path)}))
    assert url == f"sqlite:///{tmp_path}/handoff.sqlite3"


def test_create_app_connects_to_nothing(tmp_path):
    # Unreachable services: building the app must still succeed, and create no files.
    app = create_app(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DATA_DIR": str(tmp_path),
        }
    )
    assert app.test_client().get("/healthz").status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_money_round_trips_through_minor_units():
    assert money.Money(Decimal("49.99"), "USD").to_minor() == 4999
    assert money.Money.from_minor(4999, "USD").amount == Decimal("49.99")
    assert money.Money(Decimal("1500"), "JPY").to_minor() == 1500
    assert money.Money(Decimal("1.2345"), "KWD").to_minor() == 1234  # 3 decimals, half-even
    assert money.Money(Decimal("0.125"), "USD").to_minor() == 12
    assert money.Money(Decimal("0.135"), "USD").to_minor() == 14


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        money.Money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(money.CurrencyError):
        money.Money(Decimal(1), "USD") + money.Money(Decimal(1), "EUR")
    with pytest.raises(money.CurrencyError):
        money.Money(Decimal(1), "ERU")
