"""UPS Address Validation - Street Level (XAV): ``POST /api/addressvalidation/{version}/{requestoption}``.

Written from AddressValidation.yaml. Request option 1 validates, 2 classifies, 3 does both; UPS validates
street level in the US and Puerto Rico only. One candidate per address found, classified by
``simulator.warehouse.classify`` (the rule the FedEx and USPS address endpoints share); an address the
rule does not find gets ``NoCandidatesIndicator``.
"""

from __future__ import annotations

import re
from typing import Any

import flask

from simulator import ups
from simulator import warehouse as sim_warehouse

bp = flask.Blueprint("ups_address", __name__)

UpsError = ups.UpsError
VERSIONS = re.compile(r"^v[12]$")
CLASSES = {
    sim_warehouse.COMMERCIAL: {"Code": "1", "Description": "Commercial"},
    sim_warehouse.RESIDENTIAL: {"Code": "2", "Description": "Residential"},
}
UNCLASSIFIED = {"Code": "0", "Description": "Unclassified"}


@bp.errorhandler(UpsError)
def _ups_error(exc: UpsError) -> flask.Response:
    return ups.error_response(exc.status, exc.code, exc.message)


def _lines(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [str(line).strip().upper() for line in items if str(line).strip()]


@bp.post("/api/addressvalidation/<version>/<requestoption>")
def validate(version: str, requestoption: str) -> flask.Response:
    """Validate and/or classify one address (request option 1, 2 or 3)."""
    ups._require_bearer()

    def normal() -> flask.Response:
        if not VERSIONS.match(version):
            raise UpsError(400, "SIM404", f"Invalid version {version!r} in path")
        if requestoption not in ("1", "2", "3"):
            raise UpsError(400, "SIM400", f"Invalid requestoption {requestoption!r}")
        limit = flask.request.args.get("maximumcandidatelistsize", "15")
        if not limit.isdigit() or not 1 <= int(limit) <= 50:
            raise UpsError(400, "SIM400", "maximumcandidatelistsize must be 1 to 50")
        request = ups._json_body("XAVRequest")
        key = request.get("AddressKeyFormat")
        if isinstance(key, list):
            key = key[0] if key else None
        if not isinstance(key, dict):
            raise UpsError(400, "SIM400", "Missing required element: AddressKeyFormat")
        country = str(key.get("CountryCode") or "").upper()
        if country not in ("US", "PR"):
            raise UpsError(400, "264002", "Country Code is invalid or missing")
        lines = _lines(key.get("AddressLine"))
        primary = str(key.get("PostcodePrimaryLow") or "").strip()
        kind = sim_warehouse.classify(lines) if len(primary) == 5 and primary.isdigit() else None
        reply: dict[str, Any] = {"Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}}}
        context = (
            request.get("Request", {}).get("TransactionReference", {})
            if isinstance(request.get("Request"), dict)
            else {}
        )
        if isinstance(context, dict) and context.get("CustomerContext"):
            reply["Response"]["TransactionReference"] = {"CustomerContext": str(context["CustomerContext"])}
        if requestoption in ("2", "3"):
            reply["AddressClassification"] = CLASSES.get(kind or "", UNCLASSIFIED)
        if kind is None:
            reply["NoCandidatesIndicator"] = ""
            return flask.jsonify({"XAVResponse": reply})
        reply["ValidAddressIndicator"] = ""
        candidate_key: dict[str, Any] = {
            "AddressLine": lines,
            "PoliticalDivision2": str(key.get("PoliticalDivision2") or "").upper() or "UNKNOWN",
            "PoliticalDivision1": str(key.get("PoliticalDivision1") or "").upper() or "XX",
            "PostcodePrimaryLow": primary,
            "PostcodeExtendedLow": sim_warehouse.plus4(lines, primary),
            "CountryCode": country,
        }
        if key.get("ConsigneeName"):
            candidate_key["ConsigneeName"] = str(key["ConsigneeName"])[:40]
        candidate: dict[str, Any] = {"AddressKeyFormat": candidate_key}
        if requestoption in ("2", "3"):
            candidate["AddressClassification"] = CLASSES[kind]
        reply["Candidate"] = [candidate]
        return flask.jsonify({"XAVResponse": reply})

    return ups._guard("address_validation", normal)
