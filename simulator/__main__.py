"""Run the simulator: ``python -m simulator --port 8099 [--seed 7] [--callback-url URL] ...``."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Sequence

from werkzeug import serving

from simulator import app as sim_app
from simulator import config as sim_config
from simulator import push
from simulator import world as sim_world


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, sim_config.SimConfig]:
    """Parse the command line into server options and a SimConfig."""
    defaults = sim_config.SimConfig()
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Handoff carrier simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--callback-url", help='push URL; "{carrier}" becomes ups, dhl_express, fleet, fedex or usps'
    )
    parser.add_argument("--ups-callback-url")
    parser.add_argument("--dhl-callback-url")
    parser.add_argument("--fleet-callback-url")
    parser.add_argument("--fedex-callback-url")
    parser.add_argument("--usps-callback-url")
    parser.add_argument("--ups-client-id", default=defaults.ups_client_id)
    parser.add_argument("--ups-client-secret", default=defaults.ups_client_secret)
    parser.add_argument("--ups-token-ttl", type=int, default=defaults.ups_token_ttl)
    parser.add_argument("--ups-push-auth", choices=("credential", "oauth"), default=defaults.ups_push_auth)
    parser.add_argument("--ups-webhook-credential", default=defaults.ups_webhook_credential)
    parser.add_argument("--ups-webhook-token-url")
    parser.add_argument("--ups-webhook-client-id", default=defaults.ups_webhook_client_id)
    parser.add_argument("--ups-webhook-client-secret", default=defaults.ups_webhook_client_secret)
    parser.add_argument("--ups-push-unsubscribed", action="store_true")
    parser.add_argument("--dhl-username", default=defaults.dhl_username)
    parser.add_argument("--dhl-password", default=defaults.dhl_password)
    parser.add_argument("--dhl-push-secret")
    parser.add_argument("--fleet-push-secret", default=defaults.fleet_push_secret)
    parser.add_argument("--fedex-client-id", default=defaults.fedex_client_id)
    parser.add_argument("--fedex-client-secret", default=defaults.fedex_client_secret)
    parser.add_argument("--fedex-token-ttl", type=int, default=defaults.fedex_token_ttl)
    parser.add_argument(
        "--fedex-security-token",
        default=defaults.fedex_security_token,
        help='the AIV webhook security token that signs FedEx pushes (fdx-signature); "" sends none',
    )
    parser.add_argument("--usps-client-id", default=defaults.usps_client_id)
    parser.add_argument("--usps-client-secret", default=defaults.usps_client_secret)
    parser.add_argument("--usps-token-ttl", type=int, default=defaults.usps_token_ttl)
    parser.add_argument(
        "--usps-webhook-secret",
        default=defaults.usps_webhook_secret,
        help="the 32-character secret that signs USPS pushes made with --usps-push-unsubscribed (X-HMAC)",
    )
    parser.add_argument(
        "--usps-push-unsubscribed",
        action="store_true",
        help="push every USPS label to the callback URL, as a subscription made outside the gateway would",
    )
    parser.add_argument("--day-seconds", type=float, default=defaults.day_seconds)
    parser.add_argument("--exception-share", type=float, default=defaults.exception_share)
    parser.add_argument("--timeout-sleep", type=float, default=defaults.timeout_sleep_seconds)
    parser.add_argument("--ledger-path", help="append the ledger to this JSON-lines file (replayed at start)")
    parser.add_argument(
        "--data-dir",
        default="var/simulator",
        help="keeps the tracking-number counters, so a restart never reissues a number (default var/simulator)",
    )
    parser.add_argument("--faults", default="{}", help='JSON, e.g. {"ups": {"error_5xx": 0.2}}')
    parser.add_argument(
        "--world",
        help="a world model for delivery times (docs/WORLDS.md): steady, metro, storm, or a world file's path",
    )
    parser.add_argument(
        "--start",
        help="where the simulated clock starts, ISO 8601 with an offset (default: now); "
        "a world's '+N' dates count from its day",
    )
    parser.add_argument("--push-interval", type=float, default=0.5, help="real seconds between push rounds")
    args = parser.parse_args(argv)
    try:
        faults = json.loads(args.faults)
    except json.JSONDecodeError as exc:
        parser.error(f"--faults is not JSON: {exc}")
    if not 0.0 <= args.exception_share <= 1.0:
        parser.error("--exception-share must be between 0 and 1")
    if args.world:
        try:
            sim_world.load_world(args.world)
        except sim_world.WorldError as exc:
            parser.error(f"--world: {exc}")
    if args.start:
        try:
            sim_config.SimConfig(start=args.start).clock_start()
        except ValueError as exc:
            parser.error(f"--start: {exc}")
    settings = sim_config.SimConfig(
        seed=args.seed,
        callback_url=args.callback_url,
        ups_callback_url=args.ups_callback_url,
        dhl_callback_url=args.dhl_callback_url,
        fleet_callback_url=args.fleet_callback_url,
        fedex_callback_url=args.fedex_callback_url,
        usps_callback_url=args.usps_callback_url,
        ups_client_id=args.ups_client_id,
        ups_client_secret=args.ups_client_secret,
        ups_token_ttl=args.ups_token_ttl,
        ups_push_auth=args.ups_push_auth,
        ups_webhook_credential=args.ups_webhook_credential,
        ups_webhook_token_url=args.ups_webhook_token_url,
        ups_webhook_client_id=args.ups_webhook_client_id,
        ups_webhook_client_secret=args.ups_webhook_client_secret,
        ups_push_unsubscribed=args.ups_push_unsubscribed,
        dhl_username=args.dhl_username,
        dhl_password=args.dhl_password,
        dhl_push_secret=args.dhl_push_secret,
        fleet_push_secret=args.fleet_push_secret,
        fedex_client_id=args.fedex_client_id,
        fedex_client_secret=args.fedex_client_secret,
        fedex_token_ttl=args.fedex_token_ttl,
        fedex_security_token=args.fedex_security_token or None,
        usps_client_id=args.usps_client_id,
        usps_client_secret=args.usps_client_secret,
        usps_token_ttl=args.usps_token_ttl,
        usps_webhook_secret=args.usps_webhook_secret or None,
        usps_push_unsubscribed=args.usps_push_unsubscribed,
        day_seconds=args.day_seconds,
        exception_share=args.exception_share,
        timeout_sleep_seconds=args.timeout_sleep,
        ledger_path=args.ledger_path,
        data_dir=args.data_dir,
        faults=faults,
        world=args.world or None,
        start=args.start or None,
    )
    return args, settings


def main(argv: Sequence[str] | None = None) -> None:
    """Start the server and the background pusher."""
    args, settings = parse_args(argv)
    app = sim_app.create_app(settings)
    stop = threading.Event()
    pusher = app.extensions["handoff_simulator_pusher"]
    thread = threading.Thread(target=push.run_forever, args=(pusher, args.push_interval, stop), daemon=True)
    thread.start()
    try:
        # Threaded, so a request sleeping through a "timeout" fault does not hold up the others.
        serving.run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
