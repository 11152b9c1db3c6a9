"""Fixtures for the simulator tests: an app with a hand-driven clock and no real sleeping."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
# The simulator is a dev tool outside the installed distribution: import it (and these helpers) from the checkout.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from simulator import app as sim_app  # noqa: E402
from simulator import state as sim_state  # noqa: E402
from tests.unit.simulator import sim_support  # noqa: E402


@pytest.fixture
def manual_time() -> sim_support.ManualTime:
    return sim_support.ManualTime()


@pytest.fixture
def make_app(manual_time: sim_support.ManualTime) -> Callable[..., flask.Flask]:
    def build(**overrides: Any) -> flask.Flask:
        settings = {"seed": 7, "day_seconds": 86_400.0, "exception_share": 0.0, **overrides}
        return sim_app.create_app(settings, real_time=manual_time, sleep=manual_time.sleep)

    return build


@pytest.fixture
def app(make_app: Callable[..., flask.Flask]) -> flask.Flask:
    return make_app()


@pytest.fixture
def client(app: flask.Flask) -> flask.testing.FlaskClient:
    return app.test_client()


@pytest.fixture
def sim(app: flask.Flask) -> sim_state.Simulator:
    return app.extensions["handoff_simulator"]


@pytest.fixture
def session(app: flask.Flask) -> Iterator[requests.Session]:
    http = requests.Session()
    http.mount("http://sim/", sim_support.FlaskAdapter(app))
    yield http
    http.close()


@pytest.fixture
def ups_headers(client: flask.testing.FlaskClient) -> dict[str, str]:
    reply = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": sim_support.basic("sim-ups-client", "sim-ups-secret")},
    )
    assert reply.status_code == 200
    return {
        "Authorization": f"Bearer {reply.json['access_token']}",
        "transId": "t-1",
        "transactionSrc": "tests",
    }
