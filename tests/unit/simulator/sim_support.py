"""Helpers for the simulator tests: a hand-driven clock, a socket-free requests transport, contract paths."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import flask
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = REPO_ROOT / ".." / "shared"


class ManualTime:
    """A real-time source the test moves by hand, recording every sleep instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


class FlaskAdapter(BaseAdapter):
    """A requests transport that hands every request to a Flask test client (no sockets)."""

    def __init__(self, app: flask.Flask) -> None:
        super().__init__()
        self.client = app.test_client()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = requests.utils.urlparse(request.url)
        result = self.client.open(
            url.path,
            method=request.method,
            query_string=url.query,
            headers=dict(request.headers),
            data=request.body,
        )
        response = requests.Response()
        response.status_code = result.status_code
        response._content = result.get_data()
        response.headers = CaseInsensitiveDict(dict(result.headers))
        response.url = request.url or ""
        response.request = request
        response.encoding = result.mimetype_params.get("charset") or "utf-8"
        return response

    def close(self) -> None:
        pass


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the carrier contracts live in ../shared/carriers next to the repo")
    return path
