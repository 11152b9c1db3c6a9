"""The API docs page (``/docs``), served whole by the gateway: it works with no internet.

flask-smorest renders ``/docs`` with the app's ``templates/swagger_ui.html`` (an application
template takes precedence over a blueprint's of the same name), which loads Swagger UI's CSS
and JavaScript from ``/docs/assets/``: the files of the ``flask-swagger-ui`` package, which
ships the Swagger UI distribution and follows its releases. The page has no inline script
(``swagger-init.js`` here starts Swagger UI from the page's data attributes), so its
Content-Security-Policy allows only the gateway itself; ``data:`` images are the icons
embedded in Swagger UI's stylesheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, request, send_from_directory

ASSETS_URL = "/docs/assets/"
INIT_SCRIPT = "swagger-init.js"
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# What the page loads from the distribution (nothing else of the package is served).
DIST_FILES = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)


def dist_dir() -> Path:
    """Return the directory of the Swagger UI distribution shipped by ``flask-swagger-ui``."""
    import flask_swagger_ui  # imported here: only the docs assets need it

    return Path(flask_swagger_ui.__file__).resolve().parent / "dist"


def _asset(filename: str) -> Any:
    if filename == INIT_SCRIPT:
        return send_from_directory(Path(__file__).parent, INIT_SCRIPT, max_age=3600)
    if filename not in DIST_FILES:
        from werkzeug.exceptions import NotFound

        raise NotFound()
    return send_from_directory(dist_dir(), filename, max_age=86400)


def _csp(response: Any) -> Any:
    if request.path == "/docs" or request.path.startswith(ASSETS_URL):
        response.headers["Content-Security-Policy"] = CSP
    return response


def register(app: Flask) -> None:
    """Serve the docs assets and give the docs page its Content-Security-Policy."""
    blueprint = Blueprint("docs_ui", __name__)
    blueprint.add_url_rule(f"{ASSETS_URL}<path:filename>", "asset", _asset, methods=["GET"])
    app.register_blueprint(blueprint)
    app.after_request(_csp)
