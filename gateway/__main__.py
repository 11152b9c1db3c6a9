"""``handoff``: the gateway's command line, installed as a console script by the project.

From a checkout it is ``.venv/bin/handoff`` (no venv to activate, any working directory); in a
deployment, wherever pip put it. It builds the app the way ``wsgi.py`` does and offers the same
commands as ``flask --app wsgi``: ``db upgrade``, ``tenants create|list``, ``keys
create|list|revoke``, ``worker``, ``scheduler``, ``reconcile``, plus ``serve`` (the local
launcher, ``make serve``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from flask.cli import FlaskGroup

if TYPE_CHECKING:
    from flask import Flask


@click.command(
    "serve",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.pass_context
def serve_command(ctx: click.Context) -> None:
    """Run everything locally (make serve): gateway, workers, scheduler, simulator. --help for options."""
    from gateway import serve

    sys.exit(serve.main(ctx.args))


def _create_app() -> Flask:
    from gateway import create_app

    return create_app()


def main() -> None:
    """Entry point of the ``handoff`` console script."""
    cli = FlaskGroup(
        name="handoff",
        help="Handoff, the shipping gateway: migrations, tenants, API keys, workers, the local launcher.",
        create_app=_create_app,
        add_version_option=False,
        load_dotenv=False,
    )
    cli.add_command(serve_command)
    cli.main(prog_name="handoff")


if __name__ == "__main__":
    main()
