"""The console's finance pages over the Flask test client: upload, reconcile on the worker, results, lines, disputes."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.reconciliation import tables
from tests.integration.test_console_web import PLANT, csrf_of, make_user, sign_in
from tests.unit.reconciliation.invoice_files import to_csv, ups_row


@dataclass
class Finance:
    client: Any
    tenant_id: str
    user_id: str
    email: str


def _user_id(app: Any, tenant_id: str, email: str) -> str:
    from gateway.console.tables import ConsoleUser

    with app.extensions["handoff"].sessions() as session:
        return str(
            session.execute(
                sa.select(ConsoleUser.id).where(
                    ConsoleUser.tenant_id == tenant_id, ConsoleUser.email == email
                )
            ).scalar_one()
        )


def signed_in_client(app: Any, tenant_id: str, roles: tuple[str, ...]) -> Finance:
    email = make_user(app, tenant_id, roles)
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    return Finance(client, tenant_id, _user_id(app, tenant_id, email), email)


@pytest.fixture
def fin(app: Any, make_tenant: Any) -> Finance:
    return signed_in_client(app, make_tenant(("platform",)).tenant_id, ("finance",))


def invoice_rows(number: str, *, description: str = "Ground Commercial", count: int = 2) -> list[list[str]]:
    """Charges for packages no shipment of the tenant has: every line is an ``unknown_tracking`` finding."""
    return [
        ups_row(
            invoice_number=number,
            tracking="1Z" + uuid.uuid4().hex[:16].upper(),
            amount=f"{12 + n}.49",
            description=description if n == 0 else "Ground Commercial",
            invoice_date=date.today(),
        )
        for n in range(count)
    ]


def upload(
    f: Finance, rows: list[list[str]] | bytes, *, filename: str = "invoice.csv", csrf: bool = True
) -> Any:
    token = csrf_of(f.client.get("/console/finance").get_data(as_text=True))
    data: dict[str, Any] = {
        "carrier": "",
        "format": "",
        "file": (io.BytesIO(rows if isinstance(rows, bytes) else to_csv(rows)), filename),
    }
    if csrf:
        data["csrf_token"] = token
    return f.client.post("/console/finance/invoices", data=data, content_type="multipart/form-data")


def run_jobs(app: Any) -> None:
    """Relay the outbox to RQ and run a worker until the queues are empty, as the deployment does."""
    from rq import SimpleWorker

    from gateway.jobs import outbox, worker

    outbox.relay(app.extensions["handoff"])
    worker.run(app, burst=True, worker_class=SimpleWorker)


def stored(app: Any, tenant_id: str, number: str) -> tables.Invoice:
    with app.extensions["handoff"].sessions() as session:
        row = session.execute(
            sa.select(tables.Invoice).where(
                tables.Invoice.tenant_id == tenant_id, tables.Invoice.invoice_number == number
            )
        ).scalar_one()
        session.expunge(row)
        return row


def line_ids(app: Any, invoice_id: str) -> list[int]:
    with app.extensions["handoff"].sessions() as session:
        return list(
            session.execute(
                sa.select(tables.InvoiceLine.id)
                .where(tables.InvoiceLine.invoice_id == invoice_id)
                .order_by(tables.InvoiceLine.id)
            ).scalars()
        )


def reconciled(app: Any, f: Finance, rows: list[list[str]] | None = None, **kw: Any) -> tables.Invoice:
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"
    resp = upload(f, rows or invoice_rows(number, **kw))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    run_jobs(app)
    invoice = stored(app, f.tenant_id, number)
    assert invoice.status == "reconciled", invoice.error
    return invoice


def resolve(f: Finance, invoice_id: str, line_id: int, resolution: str, note: str = "", **extra: str) -> Any:
    page = f.client.get(f"/console/finance/invoices/{invoice_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_of(page), "resolution": resolution, "note": note, **extra}
    return f.client.post(f"/console/finance/invoices/{invoice_id}/lines/{line_id}", data=data)


# --- upload, progress, results ----------------------------------------------------------------


def test_finance_uploads_an_invoice_which_a_job_reconciles_and_sees_the_results(app, fin):
    page = fin.client.get("/console/finance")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'href="/console/finance"' in html  # form and nav link
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"

    rows = invoice_rows(number)
    resp = upload(fin, rows, filename="march.csv")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/console/finance?done=uploaded")
    invoice = stored(app, fin.tenant_id, number)  # persisted before acknowledged, its job queued
    assert invoice.status == "queued" and invoice.outbox_id is not None
    assert invoice.uploaded_by == fin.user_id
    html = fin.client.get("/console/finance?done=uploaded").get_data(as_text=True)
    assert f'id="inv-{invoice.id}"' in html and "queued" in html
    assert "data-running" in html and "/console/static/finance.js" in html  # reloads while it runs
    assert "Invoice uploaded; its reconciliation is queued." in html

    # The same bytes again answer the stored invoice; an empty file is refused.
    again = upload(fin, rows, filename="march.csv")
    assert again.status_code == 303 and "done=already-uploaded" in again.headers["Location"]
    empty = upload(fin, b"")
    assert empty.status_code == 422 and "The file is empty." in empty.get_data(as_text=True)

    run_jobs(app)
    assert stored(app, fin.tenant_id, number).status == "reconciled"
    html = fin.client.get("/console/finance").get_data(as_text=True)
    assert "data-running" not in html and "finance.js" not in html
    assert re.search(rf'id="inv-{invoice.id}".*?reconciled.*?value="100.0"', html, re.S)
    by_class = html.split('id="by-class"')[1].split("</table>")[0]
    assert "unknown tracking" in by_class and "25.98 USD" in by_class  # 12.49 + 13.49, recoverable whole
    by_carrier = html.split('id="by-carrier"')[1].split("</table>")[0]
    assert ">ups<" in by_carrier
    month = date.today().strftime("%Y-%m")
    assert f'href="/console/finance?month={month}"' in html  # a bar of the recovered-money charts
    assert 'href="/console/finance/disputes/ups"' in html
    listed = fin.client.get(f"/console/finance?month={month}").get_data(as_text=True)
    assert f'id="inv-{invoice.id}"' in listed

    page = fin.client.get(f"/console/finance/invoices/{invoice.id}").get_data(as_text=True)
    assert page.count('<tr id="line-') == 2
    assert "tracking number unknown to the shipper" in page  # the finding's reason
    assert "12.49 USD" in page and "13.49 USD" in page  # billed; quoted (expected) is nothing here
    assert "Dispute row 1" in page


def test_a_malformed_file_is_refused_with_its_rows_and_reasons(app, fin):
    rows = invoice_rows(f"INV-{uuid.uuid4().hex[:8].upper()}")
    rows[1][5] = "OTHER-NUMBER"  # another invoice number on row 2
    resp = upload(fin, rows)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="upload-error"' in html and "Row 2:" in html


# --- lines, decisions and the export ------------------------------------------------------------


def test_finance_disputes_a_line_filters_by_class_and_downloads_the_claim_file(app, fin):
    invoice = reconciled(app, fin)
    first, second = line_ids(app, invoice.id)

    resp = resolve(fin, invoice.id, first, "disputed", "Not our parcel", **{"class": "unknown_tracking"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"class=unknown_tracking#line-{first}")
    with app.extensions["handoff"].sessions() as session:
        line = session.get(tables.InvoiceLine, first)
        assert (line.resolution, line.resolution_note, line.resolved_by) == (
            "disputed",
            "Not our parcel",
            fin.user_id,
        )
    page = fin.client.get(f"/console/finance/invoices/{invoice.id}?done=disputed-1").get_data(as_text=True)
    row = page.split(f'id="line-{first}"')[1].split("</tr>")[0]
    assert "disputed" in row and "Not our parcel" in row and f"by {fin.email}" in row
    assert "Done: row 1 disputed." in page

    filtered = fin.client.get(f"/console/finance/invoices/{invoice.id}?class=unknown_tracking")
    assert filtered.get_data(as_text=True).count('<tr id="line-') == 2
    none = fin.client.get(f"/console/finance/invoices/{invoice.id}?class=late_delivery")
    assert none.get_data(as_text=True).count('<tr id="line-') == 0

    export = fin.client.get("/console/finance/disputes/ups")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"].startswith('attachment; filename="ups-disputed-')
    claim = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert claim[0][0] == "carrier" and len(claim) == 2
    assert claim[1][-2:] == [str(first), invoice.id] and claim[1][14] == "unknown_tracking"

    # Credited: the recovered-money chart counts it this month; reopening clears the decision.
    assert resolve(fin, invoice.id, second, "credited").status_code == 303
    html = fin.client.get("/console/finance").get_data(as_text=True)
    assert "13.49" in html.split("Recovered: credited claims")[-1].split("</figure>")[0]
    assert resolve(fin, invoice.id, second, "reopen").status_code == 303
    with app.extensions["handoff"].sessions() as session:
        assert session.get(tables.InvoiceLine, second).resolution is None
    assert resolve(fin, invoice.id, second, "paid").status_code == 422


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app, fin):
    invoice = reconciled(app, fin)
    line = line_ids(app, invoice.id)[0]
    resp = fin.client.post(
        f"/console/finance/invoices/{invoice.id}/lines/{line}", data={"resolution": "disputed"}
    )
    assert resp.status_code == 403 and "text/html" in resp.headers["Content-Type"]
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"
    assert upload(fin, invoice_rows(number), csrf=False).status_code == 403
    with app.extensions["handoff"].sessions() as session:
        assert session.get(tables.InvoiceLine, line).resolution is None
        assert (
            session.execute(sa.select(tables.Invoice).where(tables.Invoice.invoice_number == number)).first()
            is None
        )


def test_another_tenants_invoice_is_a_404_and_its_lines_cannot_be_touched(app, fin, make_tenant):
    invoice = reconciled(app, fin)
    line = line_ids(app, invoice.id)[0]
    other = signed_in_client(app, make_tenant(("platform",)).tenant_id, ("finance",))
    assert other.client.get(f"/console/finance/invoices/{invoice.id}").status_code == 404
    assert invoice.id not in other.client.get("/console/finance").get_data(as_text=True)
    assert resolve(other, invoice.id, line, "accepted").status_code == 404  # its own page is a 404 too
    token = csrf_of(other.client.get("/console/finance").get_data(as_text=True))
    resp = other.client.post(
        f"/console/finance/invoices/{invoice.id}/lines/{line}",
        data={"csrf_token": token, "resolution": "accepted"},
    )
    assert resp.status_code == 404
    assert resolve(fin, invoice.id, line, "disputed").status_code == 303
    export = other.client.get("/console/finance/disputes/ups").get_data(as_text=True)
    assert export.count("\n") == 1  # the header only
    with app.extensions["handoff"].sessions() as session:
        assert session.get(tables.InvoiceLine, line).resolution == "disputed"


def test_planted_html_in_an_invoice_cell_and_its_file_name_is_shown_as_text(app, fin):
    invoice = reconciled(app, fin, description=PLANT[:200])
    html = fin.client.get(f"/console/finance/invoices/{invoice.id}").get_data(as_text=True)
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"
    assert upload(fin, invoice_rows(number), filename="<script>x</script>.csv").status_code == 303
    listed = fin.client.get("/console/finance").get_data(as_text=True)
    assert "<script>x" not in listed and "&lt;script&gt;x&lt;/script&gt;.csv" in listed


def test_ops_may_look_but_not_act_and_platform_users_see_no_finance_page(app, fin):
    invoice = reconciled(app, fin)
    ops = signed_in_client(app, fin.tenant_id, ("ops",))
    html = ops.client.get("/console/finance").get_data(as_text=True)
    assert invoice.id in html and 'action="/console/finance/invoices"' not in html
    page = ops.client.get(f"/console/finance/invoices/{invoice.id}").get_data(as_text=True)
    assert "Dispute row" not in page and "disputes/ups" not in page
    assert resolve(ops, invoice.id, line_ids(app, invoice.id)[0], "accepted").status_code == 403
    assert ops.client.get("/console/finance/disputes/ups").status_code == 403
    assert upload(ops, invoice_rows("INV-OPS")).status_code == 403
    platform = signed_in_client(app, fin.tenant_id, ("platform",))
    assert platform.client.get("/console/finance").status_code == 403
    assert 'href="/console/finance"' not in platform.client.get("/console/shipments").get_data(as_text=True)


def test_finance_pages_send_the_console_csp_and_need_a_sign_in(app, fin):
    resp = fin.client.get("/console/finance")
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert "style=" not in resp.get_data(as_text=True) and "<script" not in resp.get_data(as_text=True)
    assert fin.client.get("/console/finance?cursor=not-a-cursor&month=13-2026").status_code == 200
    assert fin.client.get("/console/finance/disputes/UPS%0A").status_code == 404
    anonymous = app.test_client().get("/console/finance/invoices/inv_x")
    assert anonymous.status_code == 303 and anonymous.headers["Location"].startswith("/console/login?next=")
