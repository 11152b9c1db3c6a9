"""The carrier simulator as the launcher runs it: whether it is here, and the settings that point at it."""

from __future__ import annotations

from typing import Any

from gateway.launcher.processes import ROOT

# What the simulator accepts and sends by default (simulator/config.py); development values only.
SIM_UPS_CLIENT = ("sim-ups-client", "sim-ups-secret")
# Development values the simulator uses by default, never real secrets.
SIM_UPS_WEBHOOK_CREDENTIAL = "sim-webhook-credential"
SIM_DHL_USER = ("sim-dhl-user", "sim-dhl-password")
SIM_DHL_PUSH_SECRET = "sim-dhl-push-secret"  # noqa: S105
SIM_FLEET_PUSH_SECRET = "sim-fleet-secret"  # noqa: S105
SIM_FEDEX_CLIENT = ("sim-fedex-client", "sim-fedex-secret")
SIM_FEDEX_SECURITY_TOKEN = "sim-fedex-webhook-security-token"  # noqa: S105
SIM_USPS_CLIENT = ("sim-usps-client", "sim-usps-secret")
SIM_USPS_WEBHOOK_SECRET = "sim-usps-webhook-secret-0123456x"  # noqa: S105 - 32 characters, as USPS's


def simulator_available() -> bool:
    """Return whether the carrier simulator is in this checkout (it is not in the wheel)."""
    return (ROOT / "simulator" / "__main__.py").is_file()


def simulator_carriers(sim_url: str) -> list[dict[str, Any]]:
    """Return the ``CARRIERS`` entries that point the UPS, DHL Express, FedEx and USPS adapters at the
    simulator."""
    return [
        {
            "adapter": "ups",
            "config": {
                "client_id": SIM_UPS_CLIENT[0],
                "client_secret": SIM_UPS_CLIENT[1],
                "account_number": "H4ND0F",
                "shipper_name": "Handoff Demo Depot",
                "base_url": sim_url,
                "webhook_credential": SIM_UPS_WEBHOOK_CREDENTIAL,
                "timeout_seconds": 10,
            },
        },
        {
            "adapter": "dhl_express",
            "config": {
                "username": SIM_DHL_USER[0],
                "password": SIM_DHL_USER[1],
                "account_number": "951234567",
                "base_url": f"{sim_url}/sndpt",
                "timeout_seconds": 10,
            },
        },
        {
            "adapter": "fedex",
            "config": {
                "client_id": SIM_FEDEX_CLIENT[0],
                "client_secret": SIM_FEDEX_CLIENT[1],
                "account_number": "740561073",
                "base_url": f"{sim_url}/fedex",
                "webhook_security_token": SIM_FEDEX_SECURITY_TOKEN,
                "timeout_seconds": 10,
            },
        },
        {
            "adapter": "usps",
            "config": {
                "client_id": SIM_USPS_CLIENT[0],
                "client_secret": SIM_USPS_CLIENT[1],
                "crid": "56982563",
                "mid": "904128936",
                "account_number": "1000405525",
                "base_url": f"{sim_url}/usps",
                # The gateway subscribes this MID (Subscriptions - Tracking) to its own callback URL,
                # which on a laptop is plain http: the simulator takes that, USPS would not.
                "webhook_secret": SIM_USPS_WEBHOOK_SECRET,
                "admin_emails": ["ops@handoff.example"],
                "allow_http_listener": True,
                "timeout_seconds": 10,
            },
        },
    ]


def simulator_callback_secrets() -> dict[str, str]:
    """Return the ``CALLBACK_SECRETS`` that accept the simulator's pushes.

    USPS is not among them: the gateway subscribes the USPS account itself, and the account's own
    ``webhook_secret`` verifies what that subscription pushes.
    """
    return {
        "ups": SIM_UPS_WEBHOOK_CREDENTIAL,
        "dhl_express": SIM_DHL_PUSH_SECRET,
        "fleet": SIM_FLEET_PUSH_SECRET,
        "fedex": SIM_FEDEX_SECURITY_TOKEN,
    }
