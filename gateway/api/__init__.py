"""HTTP API: one blueprint per resource. A view loads input, calls one service, dumps output."""

from __future__ import annotations

import http
import json
from typing import Any

import flask
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint as _SmorestBlueprint
from flask_smorest.spec import prepare_response
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from gateway import errors
from schemas.api import common

PROBLEM_CONTENT_TYPE = errors.PROBLEM_JSON


class ExactParser(FlaskParser):
    """webargs parser that reads JSON numbers with a fraction as Decimal, never float."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return webargs_core.missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", doc="", pos=exc.start) from exc
        return flask.current_app.json.loads(text)  # the app's ExactJSONProvider: Decimal, no U+0000


class Blueprint(_SmorestBlueprint):
    """Blueprint whose request bodies keep decimals exact."""

    ARGUMENTS_PARSER = ExactParser()


class Api(_SmorestApi):
    """flask-smorest's Api with RFC 9457 errors, documented as application/problem+json."""

    ERROR_SCHEMA = common.ProblemSchema

    def handle_http_exception(self, error: Any) -> Any:
        return errors.problem_response(errors.from_http_exception(error))

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def register(api: Api) -> None:
    """Register every blueprint (imported here so nothing loads at import time)."""
    from gateway.api import (
        allocation,
        batches,
        callbacks,
        exchanges,
        health,
        invoices,
        jobs,
        kpis,
        labels,
        markups,
        rate_cards,
        rates,
        shipments,
        tracking,
        webhooks,
    )

    for module in (
        health,
        shipments,
        rates,
        callbacks,
        tracking,
        exchanges,
        rate_cards,
        markups,
        allocation,
        webhooks,
        invoices,
        labels,
        jobs,
        batches,
        kpis,
    ):
        api.register_blueprint(module.blp)
