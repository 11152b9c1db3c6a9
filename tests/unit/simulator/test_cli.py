"""The command line and the factory turn settings into a simulator, and refuse bad ones clearly."""

from __future__ import annotations

import pytest

from simulator import __main__ as cli
from simulator import app as sim_app
from simulator import config as sim_config


def test_flags_become_the_simulator_config():
    args, settings = cli.parse_args(
        [
            "--port",
            "9001",
            "--seed",
            "3",
            "--callback-url",
            "http://gw/hooks/{carrier}",
            "--day-seconds",
            "60",
            "--faults",
            '{"ups": {"error_5xx": 0.5}}',
            "--dhl-push-secret",
            "s3cret",
            "--ups-push-auth",
            "oauth",
        ]
    )
    assert args.port == 9001
    assert settings.seed == 3 and settings.day_seconds == 60.0 and settings.ups_push_auth == "oauth"
    assert settings.callback_for("dhl_express") == "http://gw/hooks/dhl_express"
    assert (
        sim_app.create_app(settings)
        .extensions["handoff_simulator"]
        .faults.snapshot()["carriers"]["ups"]["error_5xx"]
        == 0.5
    )


@pytest.mark.parametrize(
    "argv", [["--faults", "{not json"], ["--exception-share", "1.5"], ["--ups-push-auth", "hmac"]]
)
def test_bad_flags_stop_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_unknown_settings_and_bad_fault_rates_are_refused_at_build_time():
    with pytest.raises(ValueError, match="unknown simulator settings"):
        sim_app.create_app({"sed": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        sim_app.create_app({"faults": {"ups": {"timeout": 2}}})


def test_a_per_carrier_callback_overrides_the_template():
    settings = sim_config.SimConfig(
        callback_url="http://gw/{carrier}", ups_callback_url="http://gw/ups-special"
    )
    assert settings.callback_for("ups") == "http://gw/ups-special"
    assert settings.callback_for("fleet") == "http://gw/fleet"
    assert sim_config.SimConfig().callback_for("ups") is None
