"""Run the whole gateway locally: embedded services, migrations, web server, workers, scheduler, simulator.

``python -m gateway.serve`` is what ``make serve`` runs: it leaves everything up for exploration
and prints the docs URL. With no DATABASE_URL and REDIS_URL it uses the embedded default: a
SQLite file and a real embedded Redis under the data directory. From a checkout it also starts
the carrier simulator (``simulator/``, never imported here: it runs as its own process) and points
the UPS, DHL Express, FedEx and USPS adapters and the carrier callbacks at it, unless ``GATEWAY_CARRIERS`` is
set. It creates a demo tenant and prints a fresh API key and a curl command to try. ``--check``
starts everything, makes one real request, and shuts down (used by the tests).

The launcher supervises what it starts: a worker or the scheduler that exits is restarted after a
pause that doubles with each quick exit (1 s up to 30 s), with a JSON line on stderr each time; the
stack goes on serving meanwhile. The web server and the simulator are what you talk to: if one of
them exits, everything stops. As a development setting, the processes it starts accept webhook
receivers on this machine over plain http (``GATEWAY_WEBHOOK_ALLOW_LOCAL_HTTP=true``, said at start-up);
production (``gunicorn wsgi:app``, ``gateway.jobs.worker``) refuses them.

Ports: ``--port`` / ``GATEWAY_PORT`` (8000) and ``--simulator-port`` / ``SIMULATOR_PORT`` (8099);
``make serve PORT=8010 SIMULATOR_PORT=8110``.

``Stack`` (``gateway/launcher/``) is the reusable part: the demo day runner (``demo/``) starts the same
processes with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import time

import requests

from gateway.kernel import config
from gateway.kernel import container as bootstrap
from gateway.launcher.stack import LOCAL_HTTP_WEBHOOKS, Stack
from gateway.launcher.tenants import create_tenant_key, ensure_console_user

DEMO_SLUG = "demo-shop"


def console_email(slug: str) -> str:
    """The console user ``make serve`` signs you in as, in tenant ``slug``."""
    return f"ops@{slug}.example"


def _ensure_demo_key(container: bootstrap.Container, mode: str = "live") -> str:
    return create_tenant_key(
        container, DEMO_SLUG, "Demo Shop", ["platform", "ops", "finance"], f"local demo ({mode})", mode
    )[1]


def _console_sign_in(url: str, email: str, password: str) -> int:
    """Sign in to the console as a browser does (form, CSRF token, cookie); the status (303: signed in)."""
    browser = requests.Session()
    page = browser.get(f"{url}/console/login", timeout=5)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    answer = browser.post(
        f"{url}/console/login",
        data={"csrf_token": token.group(1) if token else "", "email": email, "password": password},
        allow_redirects=False,
        timeout=5,
    )
    return answer.status_code


def run_worker() -> None:
    """An RQ worker on every gateway queue that runs jobs in its own process (no fork per job)."""
    from gateway.app import create_app
    from gateway.jobs import worker

    worker.run(create_app(), worker_class=worker.BeatingSimpleWorker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port",
        type=int,
        default=config.from_environment("PORT"),
        help="the gateway's port (default: $GATEWAY_PORT, else 8000)",
    )
    parser.add_argument(
        "--simulator-port",
        type=int,
        default=os.environ.get("SIMULATOR_PORT") or "8099",
        help="the simulator's port (default: $SIMULATOR_PORT, else 8099; another if taken)",
    )
    parser.add_argument("--no-simulator", action="store_true", help="do not start the carrier simulator")
    parser.add_argument("--workers", type=int, default=1, help="RQ worker processes")
    parser.add_argument("--logs", help="write the processes' logs to this directory instead of the terminal")
    parser.add_argument("--check", action="store_true", help="start, make one request, stop")
    parser.add_argument(
        "--console-tenant",
        default=DEMO_SLUG,
        help="the tenant (slug) whose console user is printed (default: the demo tenant; e.g. a demo day's "
        "shop, with GATEWAY_DATA_DIR=var/demo)",
    )
    parser.add_argument("--rq-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rq_worker:  # what Stack runs for each worker process
        run_worker()
        return 0

    stack = Stack(
        port=args.port,
        rq_workers=args.workers,
        simulator=not args.no_simulator,
        simulator_port=args.simulator_port,
        # Ten real minutes per simulated day: tracking moves while you watch.
        simulator_args=["--day-seconds", "600"],
        log_dir=args.logs,
    )
    # SIGTERM (a supervisor, `kill`) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        try:
            stack.start()
        except RuntimeError as exc:
            print(f"could not start: {exc}", file=sys.stderr)
            return 1
        assert stack.container is not None
        if stack.webhook_local_http:
            print(
                "Development setting: webhook receivers on this machine (localhost, 127.0.0.1, ::1) are "
                f"accepted over http ({LOCAL_HTTP_WEBHOOKS}=true); production refuses them.",
                flush=True,
            )
        key = _ensure_demo_key(stack.container)
        test_key = _ensure_demo_key(stack.container, "test")
        email = console_email(args.console_tenant)
        try:
            console_password = ensure_console_user(
                stack.container, args.console_tenant, email, ["ops", "finance", "admin"]
            )
        except LookupError:
            print(f"no tenant {args.console_tenant!r} in this database", file=sys.stderr)
            return 2
        url = stack.url
        if args.check:
            r = requests.get(f"{url}/v1/shipments", headers={"Authorization": f"Bearer {key}"}, timeout=5)
            print(f"check: GET /v1/shipments -> {r.status_code}")
            signed_in = _console_sign_in(url, email, console_password)
            print(f"check: console sign-in as {email} -> {signed_in}")
            return 0 if r.status_code == 200 and signed_in == 303 else 1
        sim = (
            f"Carrier simulator (UPS, FedEx and USPS REST, DHL Express SOAP, driver app): {stack.simulator_url}/_sim/health\n"
            if stack.simulator
            else ""
        )
        print(
            f"\nHandoff is running at {url}\n"
            f"  API docs:  {url}/docs\n"
            f"  OpenAPI:   {url}/openapi.json\n"
            f"  Console:   {url}/console/  (sign in as {email}, password {console_password}; "
            "a new one each start)\n"
            f"{sim}"
            f"Database: {stack.container.engine.url.render_as_string(hide_password=True)}\n"
            f"A demo API key (shown once):\n  {key}\n"
            f"and its test-mode key (its own data; buys from TEST_CARRIERS):\n  {test_key}\n\nTry:\n"
            f"  curl -s {url}/v1/shipments -H 'Authorization: Bearer {key}'\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while stack.alive():
            time.sleep(0.5)
        print(f"{', '.join(stack.exited())} exited; stopping everything", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
