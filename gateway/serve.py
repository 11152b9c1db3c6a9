"""Run the whole gateway locally: embedded services, migrations, web server, a worker and the scheduler.

``python -m gateway.serve`` (what ``make demo``/``make serve`` run). With no DATABASE_URL and
REDIS_URL it uses the embedded default: a SQLite file and a real embedded Redis under the data
directory. It creates a demo tenant and prints a fresh API key and a curl command to try.
``--check`` starts everything, makes one real request, and shuts down (used by the tests).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from gateway import auth, bootstrap, config, migrate
from gateway.db import models

ROOT = Path(__file__).resolve().parent.parent
DEMO_SLUG = "demo-shop"


def _ensure_demo_key(container: bootstrap.Container) -> str:
    with container.sessions() as session:
        tenant = session.execute(
            sa.select(models.Tenant).where(models.Tenant.slug == DEMO_SLUG)
        ).scalar_one_or_none()
        if tenant is None:
            tenant = models.Tenant(name="Demo Shop", slug=DEMO_SLUG)
            session.add(tenant)
            session.flush()
        _, key = auth.create_key(
            session,
            tenant.id,
            ["platform", "ops", "finance"],
            name="local demo",
            pepper=container.settings["SECRET_PEPPER"],
        )
        session.commit()
        return key


def _wait_ready(url: str, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the gateway did not become ready at {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--check", action="store_true", help="start, make one request, stop")
    args = parser.parse_args(argv)

    settings = config.load()
    container = bootstrap.build(settings)
    redis_url = container.redis_url  # starts the embedded Redis when REDIS_URL is unset
    migrate.upgrade(container.database_url)
    key = _ensure_demo_key(container)

    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": container.database_url,
        "GATEWAY_DATA_DIR": str(Path(settings["DATA_DIR"]).resolve()),
    }
    python = sys.executable
    web = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
        [
            python,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "2",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen([python, "-m", "gateway.worker"], cwd=ROOT, env=env)  # noqa: S603
    scheduler = subprocess.Popen([python, "-m", "gateway.scheduler"], cwd=ROOT, env=env)  # noqa: S603
    children = [web, worker, scheduler]
    url = f"http://127.0.0.1:{args.port}"
    try:
        _wait_ready(url)
        if args.check:
            r = requests.get(f"{url}/v1/shipments", headers={"Authorization": f"Bearer {key}"}, timeout=5)
            print(f"check: GET /v1/shipments -> {r.status_code}")
            return 0 if r.status_code == 200 else 1
        print(
            f"\nHandoff is running at {url}  (docs: {url}/docs, spec: {url}/openapi.json)\n"
            f"Database: {container.engine.url.render_as_string(hide_password=True)}\n"
            f"A demo API key (shown once):\n  {key}\n\nTry:\n"
            f"  curl -s {url}/v1/shipments -H 'Authorization: Bearer {key}'\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for p in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in children:
            if p.poll() is None:
                p.terminate()
        for p in children:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        container.dispose()
        if container._embedded is not None:
            container._embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
