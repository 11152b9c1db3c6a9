"""Carrier invoices: upload, reconciliation progress and report, lines with evidence, disputes.

Uploads are ``multipart/form-data`` (field ``file``; optional ``format`` and ``carrier``), read as
a stream. They are not wrapped in ``idempotency.write_endpoint`` (its body fingerprint would
read the whole file): the content hash is the idempotency key instead, so a retried upload
answers the stored invoice with 200, and the upload use case (``intake.receive``) commits it.
The other writes are ``write_endpoint`` units of work, like every other write of the API.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView

from gateway.kernel import auth, idempotency
from gateway.kernel.errors import Problem
from gateway.kernel.http import Blueprint
from gateway.kernel.web import container, db
from gateway.reconciliation import disputes, intake, invoices, mappings, reports, runs, tables
from gateway.reconciliation import schemas as schema
from schemas import money

log = logging.getLogger(__name__)

blp = Blueprint("invoices", __name__, url_prefix="/v1", description="Carrier invoices and reconciliation")


# --- presenters -----------------------------------------------------------------------------


def _money(minor: int | None, currency: str) -> dict[str, Any] | None:
    if minor is None:
        return None
    value = money.Money.from_minor(int(minor), currency)
    return {"amount": value.amount, "currency": value.currency}


def present_totals(totals: dict[str, Any], currency: str) -> dict[str, Any]:
    out: dict[str, Any] = {"lines": totals.get("lines", 0)}
    for key in ("billed", "expected", "variance", "recoverable"):
        out[key] = _money(totals.get(f"{key}_minor", 0), currency)
    for key in ("flagged_lines", "findings"):
        if key in totals:
            out[key] = totals[key]
    return out


def present_report(report: dict[str, Any] | None, currency: str) -> dict[str, Any] | None:
    if report is None:
        return None
    out: dict[str, Any] = {
        "currency": currency,
        "totals": present_totals(report["totals"], currency),
        "by_class": {k: present_totals(v, currency) for k, v in report.get("by_class", {}).items()},
        "by_carrier": {k: present_totals(v, currency) for k, v in report.get("by_carrier", {}).items()},
    }
    if "by_resolution" in report:
        out["by_resolution"] = {
            k: {"lines": v["lines"], "recoverable": _money(v["recoverable_minor"], currency)}
            for k, v in report["by_resolution"].items()
        }
    if "invoices" in report:
        out["invoices"] = report["invoices"]
    return out


def _job(invoice: tables.Invoice) -> dict[str, Any] | None:
    """The RQ job behind the invoice's outbox entry, with its meta (progress), if Redis knows it."""
    if invoice.outbox_id is None:
        return None
    try:
        from rq.job import Job

        from gateway.jobs.tables import OutboxEntry

        entry = db().get(OutboxEntry, invoice.outbox_id)
        if entry is None or not entry.rq_job_id:
            return {"outbox_state": entry.state if entry else None}
        job = Job.fetch(entry.rq_job_id, connection=container().redis)
        return {
            "id": job.id,
            "status": str(job.get_status(refresh=False)),
            "outbox_state": entry.state,
            "meta": job.meta.get("progress"),
        }
    except Exception:  # the job expired or Redis is away: the database progress still answers
        log.debug("reconciliation job not readable", exc_info=True)
        return None


def present_reconciliation(invoice: tables.Invoice, *, with_job: bool = True) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "status": invoice.status,
        "progress": runs.describe(invoice.progress or {}),
        "job": _job(invoice) if with_job else None,
        "error": invoice.error,
        "report": present_report(invoice.report, invoice.currency),
    }


def present_invoice(invoice: tables.Invoice, *, with_job: bool = False) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "carrier": invoice.carrier,
        "format": invoice.format,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.invoice_date,
        "account_number": invoice.account_number,
        "currency": invoice.currency,
        "filename": invoice.filename,
        "rows": invoice.row_count,
        "lines": invoice.line_count,
        "billed": _money(invoice.billed_minor, invoice.currency),
        "status": invoice.status,
        "created_at": invoice.created_at,
        "reconciled_at": invoice.reconciled_at,
        "reconciliation": present_reconciliation(invoice, with_job=with_job),
    }


_COUNTS = frozenset({"card_version", "duplicate_of_row", "events", "carrier_scans"})


def _evidence_value(key: str, value: Any, currency: str) -> tuple[str, Any]:
    if key.endswith("_minor"):
        return key[: -len("_minor")], _money(int(value), currency) if value is not None else None
    if isinstance(value, str) and (key.endswith("_at") or key == "commit_deadline"):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return key, value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return key, parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        if key in _COUNTS or key.endswith("_id"):
            return key, int(value)
        # Measures and percentages: exact decimal strings, the same on SQLite (REAL) and PostgreSQL.
        return key, format(Decimal(repr(value) if isinstance(value, float) else value).normalize(), "f")
    if key == "quote_lines" and isinstance(value, list):
        return key, [
            {
                "code": q.get("code"),
                "description": q.get("description"),
                "cost": _money(q.get("cost_minor"), currency),
            }
            for q in value
            if isinstance(q, dict)
        ]
    return key, value


def present_discrepancy(d: tables.Discrepancy, currency: str) -> dict[str, Any]:
    evidence = dict(_evidence_value(k, v, currency) for k, v in (d.evidence or {}).items())
    return {
        "class": d.kind,
        "billed": _money(d.billed_minor, currency),
        "expected": _money(d.expected_minor, currency),
        "recoverable": _money(d.recoverable_minor, currency),
        "reason": disputes.reason_for(d.kind, d.evidence or {}, currency),
        "evidence": evidence,
    }


def present_line(
    line: tables.InvoiceLine, found: list[tables.Discrepancy], expected: int | None, is_return: bool = False
) -> dict[str, Any]:
    cur = line.currency
    dims = None
    if line.length is not None:
        dims = {
            "length": line.length,
            "width": line.width,
            "height": line.height,
            "unit": line.dimension_unit,
        }
    return {
        "id": line.id,
        "invoice_id": line.invoice_id,
        "row": line.row_number,
        "tracking_number": line.tracking_number,
        "charge_code": line.charge_code,
        "charge_class": line.charge_class,
        "description": line.description,
        "amount": _money(line.amount_minor, cur),
        "expected": _money(expected, cur),
        "variance": _money(line.amount_minor - expected, cur) if expected is not None else None,
        "recoverable": _money(line.recoverable_minor, cur),
        "billed_weight": line.billed_weight,
        "weight_unit": line.weight_unit,
        "weight_type": line.weight_type,
        "dimensions": dims,
        "zone": line.zone,
        "service": line.service,
        "ship_date": line.ship_date,
        "shipment_id": line.shipment_id,
        "is_return": is_return,
        "resolution": line.resolution,
        "resolution_note": line.resolution_note,
        "resolved_at": line.resolved_at,
        "credited_by_line_id": line.credited_by_line_id,
        "discrepancies": [present_discrepancy(d, cur) for d in found],
    }


# --- invoices -------------------------------------------------------------------------------


def _form_value(name: str) -> str | None:
    value = request.form.get(name)
    if value is None or not value.strip():
        return None
    return value.strip().lower()


@blp.route("/invoices")
class Invoices(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"multipart/form-data": {"schema": schema.UploadFormSchema}},
        }
    )
    @auth.require("finance")
    @blp.response(201, schema.InvoiceSchema, description="Stored; reconciliation queued")
    @blp.alt_response(200, schema=schema.InvoiceSchema, description="The same file again: the stored invoice")
    @blp.alt_response(409, description="invoice-duplicate: same carrier and number from another file")
    @blp.alt_response(422, description="invoice-unreadable or invoice-malformed (rows and reasons listed)")
    def post(self) -> Any:
        """Upload a carrier invoice (UPS Billing Data CSV, FedEx CSV, or a mapped generic CSV)."""
        c = container()
        request.max_content_length = int(c.settings["INVOICE_MAX_BYTES"])
        if not (request.mimetype or "").startswith("multipart/form-data"):
            raise Problem(
                "unsupported-media-type", "Upload the invoice as multipart/form-data (field 'file')."
            )
        upload = request.files.get("file")
        if upload is None:
            raise Problem("validation-error", "The form has no file part.", errors={"file": ["required"]})
        fmt, carrier = _form_value("format"), _form_value("carrier")
        if carrier is not None and not schema.CARRIER_CODE_PATTERN.fullmatch(carrier):
            raise Problem(
                "validation-error", "carrier is not a carrier code.", errors={"carrier": ["invalid"]}
            )
        principal = auth.current()
        invoice, created = intake.receive(
            db(),
            principal.tenant_id,
            upload.stream,
            filename=upload.filename or "",
            fmt=fmt,
            carrier=carrier,
            key_id=principal.key_id,
        )
        headers = {"Location": url_for("invoices.Invoice", invoice_id=invoice.id)}
        return present_invoice(invoice), (201 if created else 200), headers

    @auth.require("finance")
    @blp.arguments(schema.InvoiceListArgsSchema, location="query")
    @blp.response(200, schema.InvoiceListSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List uploaded invoices, newest first."""
        rows, nxt = invoices.list_invoices(
            db(),
            auth.current().tenant_id,
            limit=args["limit"],
            cursor=args.get("cursor"),
            carrier=args.get("carrier"),
        )
        return {"data": [present_invoice(r) for r in rows], "next_cursor": nxt}


@blp.route("/invoices/<string:invoice_id>")
class Invoice(MethodView):
    @auth.require("finance")
    @blp.response(200, schema.InvoiceSchema)
    def get(self, invoice_id: str) -> Any:
        """Read an invoice with its reconciliation status and report."""
        return present_invoice(
            invoices.get_invoice(db(), auth.current().tenant_id, invoice_id), with_job=True
        )


@blp.route("/invoices/<string:invoice_id>/reconciliation")
class Reconciliation(MethodView):
    @auth.require("finance")
    @blp.response(200, schema.ReconciliationSchema)
    def get(self, invoice_id: str) -> Any:
        """Progress of the reconciliation job (step, percent) and, once done, the report."""
        return present_reconciliation(invoices.get_invoice(db(), auth.current().tenant_id, invoice_id))

    @auth.require("finance")
    @idempotency.write_endpoint
    @blp.response(202, schema.ReconciliationSchema)
    @blp.alt_response(409, description="a run is queued or in progress")
    def post(self, invoice_id: str) -> Any:
        """Run the reconciliation again (after tracking events or labels changed); lines keep finance's decisions."""
        invoice = runs.restart(db(), auth.current().tenant_id, invoice_id)
        return present_reconciliation(invoice, with_job=False)


@blp.route("/invoices/<string:invoice_id>/lines")
class Lines(MethodView):
    @auth.require("finance")
    @blp.arguments(schema.LineListArgsSchema, location="query")
    @blp.response(200, schema.LineListSchema)
    def get(self, args: dict[str, Any], invoice_id: str) -> Any:
        """The invoice's lines in file order, each with its discrepancies and evidence."""
        rows, found, expected, nxt = invoices.list_lines(
            db(),
            auth.current().tenant_id,
            invoice_id,
            limit=args["limit"],
            after=args.get("after"),
            flagged=args.get("flagged"),
            kind=args.get("class_"),
            resolution=args.get("resolution"),
        )
        returns = invoices.returns_among(db(), auth.current().tenant_id, [r.shipment_id for r in rows])
        return {
            "data": [
                present_line(r, found.get(r.id, []), expected.get(r.id), r.shipment_id in returns)
                for r in rows
            ],
            "next_after": nxt,
        }


@blp.route("/invoices/<string:invoice_id>/lines/<int64:line_id>")
class Line(MethodView):
    @auth.require("finance")
    @blp.response(200, schema.LineSchema)
    def get(self, invoice_id: str, line_id: int) -> Any:
        """One line with its discrepancies and evidence."""
        session = db()
        line = invoices.get_line(session, auth.current().tenant_id, invoice_id, line_id)
        return _line(session, line)

    @auth.require("finance")
    @idempotency.write_endpoint
    @blp.arguments(schema.LineResolutionSchema)
    @blp.response(200, schema.LineSchema)
    def patch(self, data: dict[str, Any], invoice_id: str, line_id: int) -> Any:
        """Mark a line accepted, disputed or credited (null reopens it)."""
        principal = auth.current()
        session = db()
        line = disputes.resolve_line(
            session,
            principal.tenant_id,
            invoice_id,
            line_id,
            data["resolution"],
            data.get("note"),
            principal.key_id,
        )
        return _line(session, line)


def _line(session: Any, line: tables.InvoiceLine) -> dict[str, Any]:
    expected = invoices.expected_amounts(session, [line.id]).get(line.id)
    is_return = line.shipment_id in invoices.returns_among(session, line.tenant_id, [line.shipment_id])
    return present_line(line, invoices.discrepancies_of(session, line.id), expected, is_return)


# --- mappings, report, disputes -------------------------------------------------------------

_CARRIER_PATH = {"type": "string", "pattern": schema.CARRIER_CODE_PATTERN.pattern}


def _present_mapping(row: tables.InvoiceColumnMapping) -> dict[str, Any]:
    return {**row.mapping, "carrier": row.carrier, "updated_at": row.updated_at}


@blp.route("/invoice-mappings/<string:carrier>")
class Mapping(MethodView):
    @blp.doc(parameters=[{"in": "path", "name": "carrier", "required": True, "schema": _CARRIER_PATH}])
    @auth.require("finance")
    @blp.response(200, schema.ColumnMappingOutSchema)
    def get(self, carrier: str) -> Any:
        """The saved generic CSV column mapping of a carrier."""
        row = mappings.get_mapping(db(), auth.current().tenant_id, carrier)
        if row is None:
            raise Problem("not-found", f"No column mapping saved for {carrier!r}.")
        return _present_mapping(row)

    @blp.doc(parameters=[{"in": "path", "name": "carrier", "required": True, "schema": _CARRIER_PATH}])
    @auth.require("finance")
    @idempotency.write_endpoint
    @blp.arguments(schema.ColumnMappingSchema)
    @blp.response(200, schema.ColumnMappingOutSchema)
    def put(self, data: dict[str, Any], carrier: str) -> Any:
        """Save (or replace) how generic CSV invoices of this carrier are read."""
        if not schema.CARRIER_CODE_PATTERN.fullmatch(carrier):
            raise Problem(
                "validation-error", "carrier is not a carrier code.", errors={"carrier": ["invalid"]}
            )
        principal = auth.current()
        row = mappings.save_mapping(db(), principal.tenant_id, carrier, data, principal.key_id)
        return _present_mapping(row)


@blp.route("/reconciliation/report")
class Report(MethodView):
    @auth.require("finance")
    @blp.arguments(schema.ReportArgsSchema, location="query")
    @blp.response(200, schema.ReportSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Totals across reconciled invoices: billed, expected, variance, recoverable, by class and by carrier."""
        report, currency = reports.tenant_report(
            db(),
            auth.current().tenant_id,
            carrier=args.get("carrier"),
            currency=args.get("currency"),
            created_after=args.get("created_after"),
            created_before=args.get("created_before"),
        )
        return present_report(report, currency or "USD")


@blp.route("/disputes/<string:carrier>")
class Disputes(MethodView):
    @blp.doc(parameters=[{"in": "path", "name": "carrier", "required": True, "schema": _CARRIER_PATH}])
    @auth.require("finance")
    @blp.arguments(schema.DisputeExportArgsSchema, location="query")
    @blp.response(200, description="CSV, one row per line, with what a carrier claim form needs")
    def get(self, args: dict[str, Any], carrier: str) -> Any:
        """Export the carrier's disputed lines (or another resolution) as a claim CSV."""
        # fullmatch: the pattern's "$" would let "ups\n" through, and the name goes into a header.
        if not schema.CARRIER_CODE_PATTERN.fullmatch(carrier):
            raise Problem(
                "validation-error", "carrier is not a carrier code.", errors={"carrier": ["invalid"]}
            )
        tenant_id = auth.current().tenant_id
        sessions = container().sessions

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            with sessions() as session:
                for row in disputes.dispute_rows(session, tenant_id, carrier, resolution=args["resolution"]):
                    writer.writerow(row)
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate(0)

        filename = f"{carrier}-{args['resolution']}-{datetime.now(UTC).strftime('%Y%m%d')}.csv"
        # RFC 6266: the name is a validated carrier code, so the plain form and filename* agree.
        disposition = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename, safe='')}"
        return Response(
            stream_with_context(generate()),
            mimetype="text/csv",
            headers={"Content-Disposition": disposition},
        )
