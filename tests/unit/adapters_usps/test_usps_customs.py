"""USPS customs forms: a domestic label to or from APO/FPO/DPO or a territory carries ``customsForm``.

Written from labels_update_1.yaml (``DomesticCustomsForm``, ``DomesticReturnsCustomsForm``,
``ShippingContents``, ``CustomsForm``, ``ImageInfo``) and NOTES.md §5.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import flask
import pytest
import requests

from adapters import base, checks
from adapters import http as carrier_http
from adapters.usps import mapping, requirements
from adapters.usps.client import UspsAdapter
from schemas import carrier, money, types
from simulator import app as sim_app
from tests.unit.adapters_usps import usps_fixtures as fx
from tests.unit.simulator import sim_support

TODAY = date(2025, 5, 26)
PRIORITY = mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE")


def _label(
    spec: types.ShipmentSpec, fmt: carrier.LabelFormat = carrier.LabelFormat.PDF, reference: str = "shp_0001"
) -> dict[str, Any]:
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", reference, fmt)
    return mapping.label_request(request, PRIORITY, TODAY, fx.CONFIG).json


def _to(destination: types.Address, customs: types.Customs | None = fx.CUSTOMS) -> types.ShipmentSpec:
    return dataclasses.replace(fx.TO_APO, destination=destination, customs=customs)


def _item(**changes: Any) -> types.CustomsItem:
    return dataclasses.replace(fx.CUSTOMS.items[0], **changes)


def _problems(spec: types.ShipmentSpec) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in requirements.check(spec, "PRIORITY_MAIL")]


# -- which labels carry a customs form --------------------------------------------------------------------


def test_a_label_to_an_apo_address_carries_the_declaration_as_uspss_customs_form():
    body = _label(fx.TO_APO)

    assert body["toAddress"]["state"] == "AE"
    assert body["customsForm"] == {
        "customsContentType": "MERCHANDISE",
        "contents": [
            {
                "itemDescription": "Cotton T-shirt",
                "itemQuantity": 2,
                "itemTotalValue": 25,  # 2 x 12.50, the line's total
                "weightUOM": "lb",
                "itemTotalWeight": 0.5512,  # 0.25 kg, rounded up to 0.0001 lb
                "countryofOrigin": "US",
                "HSTariffNumber": "61091000",
            },
            {
                "itemDescription": "Ceramic mug",
                "itemQuantity": 3,
                "itemTotalValue": 0.3,
                "weightUOM": "lb",
                "itemTotalWeight": 0.441,
                "countryofOrigin": "CN",
                "HSTariffNumber": "691200",
            },
        ],
        "AESITN": "NO EEI 30.37(a)",
        "invoiceNumber": "INV-1001",
        "exportersReference": "123456789",
    }


@pytest.mark.parametrize("state", sorted(requirements.MILITARY_STATES))
def test_every_armed_forces_state_gets_a_customs_form(state):
    body = _label(_to(dataclasses.replace(fx.APO, state=state)))

    assert body["customsForm"]["customsContentType"] == "MERCHANDISE"


@pytest.mark.parametrize(
    "destination",
    [
        fx.GUAM,
        types.Address("US", "00802", "St Thomas", ("1 Main St",), "VI", name="Ann Lee"),
        types.Address("AS", "96799", "Pago Pago", ("1 Main St",), "AS", name="Ann Lee"),
        types.Address("US", "96960", "Majuro", ("PO Box 1",), "MH", name="Ann Lee"),
    ],
    ids=["guam-as-country", "usvi-as-state", "american-samoa", "marshall-islands"],
)
def test_a_label_to_a_territory_outside_the_us_customs_territory_gets_a_customs_form(destination):
    body = _label(_to(destination))

    assert [line["itemDescription"] for line in body["customsForm"]["contents"]] == [
        "Cotton T-shirt",
        "Ceramic mug",
    ]


@pytest.mark.parametrize(
    "destination",
    [
        fx.DESTINATION,
        types.Address("US", "99501", "Anchorage", ("1 Main St",), "AK", name="Ann Lee"),
        types.Address("US", "96813", "Honolulu", ("1 Main St",), "HI", name="Ann Lee"),
        types.Address("PR", "00901", "San Juan", ("1 Calle Fortaleza",), "PR", name="Ann Lee"),
        types.Address("US", "00901", "San Juan", ("1 Calle Fortaleza",), "PR", name="Ann Lee"),
    ],
    ids=["missouri", "alaska", "hawaii", "puerto-rico-as-country", "puerto-rico-as-state"],
)
def test_a_label_inside_the_us_customs_territory_has_no_customs_form_even_with_a_declaration(destination):
    spec = _to(destination)

    assert "customsForm" not in _label(spec)
    assert requirements.check(spec, "PRIORITY_MAIL") == []
    assert requirements.check(dataclasses.replace(spec, customs=None), "PRIORITY_MAIL") == []


def test_documents_go_as_document_without_an_hs_tariff_number():
    form = _label(_to(fx.APO, fx.DOCUMENTS))["customsForm"]

    assert form["customsContentType"] == "DOCUMENT"
    assert form["contents"] == [
        {
            "itemDescription": "Signed contract",
            "itemQuantity": 1,
            "itemTotalValue": 1,
            "weightUOM": "lb",
            "itemTotalWeight": 0.2205,
            "countryofOrigin": "US",
        }
    ]


@pytest.mark.parametrize(
    ("content_type", "usps"),
    [
        ("merchandise", "MERCHANDISE"),
        ("documents", "DOCUMENT"),
        ("gift", "GIFT"),
        ("sample", "COMMERCIAL_SAMPLE"),
        ("return", "RETURNED_GOODS"),
    ],
)
def test_each_content_type_maps_to_uspss_customs_content_type(content_type, usps):
    customs = dataclasses.replace(fx.CUSTOMS, content_type=content_type)

    assert _label(_to(fx.APO, customs))["customsForm"]["customsContentType"] == usps
    assert set(mapping.CUSTOMS_CONTENT_TYPES) == set(types.CONTENT_TYPES)


def test_thirty_items_go_in_declaration_order_with_values_to_the_cent():
    items = tuple(
        _item(description=f"Part {n}", quantity=n, unit_value=money.Money(Decimal("0.05"), "USD"))
        for n in range(1, 31)
    )
    form = _label(_to(fx.APO, dataclasses.replace(fx.CUSTOMS, items=items)))["customsForm"]

    assert [line["itemDescription"] for line in form["contents"]] == [f"Part {n}" for n in range(1, 31)]
    assert [line["itemTotalValue"] for line in form["contents"][:3]] == [0.05, 0.1, 0.15]
    assert form["contents"][29]["itemTotalValue"] == 1.5


def test_the_invoice_number_is_left_off_rather_than_cut_and_both_parties_references_are_their_tax_ids():
    customs = dataclasses.replace(
        fx.CUSTOMS,
        invoice_number=None,
        importer_tax_ids=(types.TaxId("VAT", "gu 123-456"),),
    )
    short = _label(_to(fx.APO, customs), reference="shp_0001")["customsForm"]
    long = _label(_to(fx.APO, customs), reference="shp_01JDQ4ZKX6V3B1Y8N0S2W5T7RM")["customsForm"]

    assert short["invoiceNumber"] == "shp_0001"
    assert "invoiceNumber" not in long
    assert (short["exportersReference"], short["importersReference"]) == ("123456789", "GU123456")


def test_a_label_from_an_apo_address_carries_a_customs_form_too():
    spec = dataclasses.replace(
        fx.TO_APO, origin=dataclasses.replace(fx.APO, name="Sam Wilson"), destination=fx.DESTINATION
    )

    assert _label(spec)["customsForm"]["customsContentType"] == "MERCHANDISE"
    assert _problems(dataclasses.replace(spec, customs=None)) == [("customs", "required")]


# -- the label image a customs form allows -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "image_type", "bought"),
    [
        (carrier.LabelFormat.PDF, "PDF", carrier.LabelFormat.PDF),
        (carrier.LabelFormat.ZPL, "ZPL203DPI", carrier.LabelFormat.ZPL),
        (carrier.LabelFormat.PNG, "PDF", carrier.LabelFormat.PDF),
        (carrier.LabelFormat.GIF, "PDF", carrier.LabelFormat.PDF),
    ],
)
def test_a_customs_form_label_asked_in_png_or_gif_is_bought_as_a_pdf(fmt, image_type, bought):
    request = carrier.LabelRequest(fx.TO_APO, "x", "PRIORITY_MAIL", "shp_0001", fmt)

    assert _label(fx.TO_APO, fmt)["imageInfo"]["imageType"] == image_type
    assert mapping.bought_format(request) == bought
    assert image_type in mapping.CUSTOMS_FORM_IMAGE_TYPES


@pytest.mark.parametrize("fmt", sorted(mapping.IMAGE_TYPES, key=str))
def test_a_label_without_a_customs_form_keeps_the_format_asked(fmt):
    spec = dataclasses.replace(fx.SPEC, customs=fx.CUSTOMS)
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", fmt)

    assert _label(spec, fmt)["imageInfo"]["imageType"] == mapping.IMAGE_TYPES[fmt]
    assert mapping.bought_format(request) == fmt


# -- return labels ----------------------------------------------------------------------------------------


def _return(options: frozenset[str] = frozenset(), fmt: carrier.LabelFormat = carrier.LabelFormat.PDF) -> Any:
    spec = dataclasses.replace(
        fx.TO_APO,
        origin=fx.APO,
        destination=fx.ORIGIN,
        is_return=True,
        options=options,
        customs=dataclasses.replace(fx.CUSTOMS, content_type="return"),
    )
    request = carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001", fmt)
    return mapping.return_label_request(request, PRIORITY).json


def test_a_return_from_an_apo_address_carries_a_customs_form_with_the_mail_date_shown():
    body = _return(fmt=carrier.LabelFormat.GIF)

    assert body["customsForm"]["customsContentType"] == "RETURNED_GOODS"
    assert len(body["customsForm"]["contents"]) == 2
    assert body["imageInfo"]["imageType"] == "PDF"
    assert body["imageInfo"]["suppressMailDate"] is False


def test_a_return_qr_code_is_kept_with_a_customs_form():
    body = _return(frozenset({mapping.RETURN_QR_OPTION}))

    assert body["imageInfo"]["imageType"] == "LABEL_BROKER"
    assert "customsForm" in body


def test_a_domestic_return_has_no_customs_form():
    spec = dataclasses.replace(fx.SPEC, is_return=True, customs=fx.CUSTOMS)
    body = mapping.return_label_request(
        carrier.LabelRequest(spec, "x", "PRIORITY_MAIL", "shp_0001"), PRIORITY
    ).json

    assert "customsForm" not in body and "suppressMailDate" not in body["imageInfo"]


# -- the pre-purchase check -------------------------------------------------------------------------------


def test_a_label_to_an_apo_address_without_a_declaration_is_reported_before_purchase():
    spec = _to(fx.APO, None)

    problems = requirements.check(spec, "PRIORITY_MAIL")

    assert [(p.path, p.code) for p in problems] == [("customs", "required")]
    assert "destination is AE" in problems[0].message
    with pytest.raises(base.InvalidShipment) as caught:
        _label(spec)
    assert list(caught.value.problems) == problems


def test_a_label_to_guam_without_a_declaration_names_the_territory():
    (problem,) = requirements.check(_to(fx.GUAM, None), "PRIORITY_MAIL")

    assert (problem.path, problem.code) == ("customs", "required")
    assert "destination is GU" in problem.message


@pytest.mark.parametrize(
    ("customs", "expected"),
    [
        (dataclasses.replace(fx.DOCUMENTS, items=()), [("customs.items", checks.REQUIRED)]),
        (dataclasses.replace(fx.CUSTOMS, items=()), [("customs.items", checks.REQUIRED)]),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(),) * 31),
            [("customs.items", checks.TOO_MANY)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(description="Organic cotton T-shirt, size XL"),)),
            [("customs.items.0.description", checks.TOO_LONG)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(description="  "),)),
            [("customs.items.0.description", checks.REQUIRED)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(fx.CUSTOMS.items[0], _item(description="Merchandise"))),
            [("customs.items.1.description", checks.INVALID_FORMAT)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(description="n/a"),)),
            [("customs.items.0.description", checks.INVALID_FORMAT)],
        ),
        (
            dataclasses.replace(
                fx.CUSTOMS, items=(_item(quantity=10_000, unit_value=money.Money(Decimal("0.01"), "USD")),)
            ),
            [("customs.items.0.quantity", checks.OVER_LIMIT)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(unit_value=money.Money(Decimal("12.50"), "EUR")),)),
            [("customs.items.0.unit_value", checks.CURRENCY)],
        ),
        (
            dataclasses.replace(fx.DOCUMENTS, items=(_item(unit_value=money.Money(Decimal(0), "USD")),)),
            [("customs.items.0.unit_value", checks.NOT_POSITIVE)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(weight_kg=Decimal(0)),)),
            [("customs.items.0.weight", checks.NOT_POSITIVE)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(hs_code="6109"),)),
            [("customs.items.0.hs_code", checks.INVALID_FORMAT)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, items=(_item(origin_country="USA"),)),
            [("customs.items.0.origin_country", checks.INVALID_FORMAT)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, content_type="repair"),
            [("customs.content_type", checks.INVALID_FORMAT)],
        ),
        (
            dataclasses.replace(fx.CUSTOMS, exporter_tax_ids=(types.TaxId("VAT", "X" * 41),)),
            [("customs.exporter_tax_ids.0.number", checks.TOO_LONG)],
        ),
    ],
    ids=[
        "documents-without-items",
        "goods-without-items",
        "31-items",
        "description-over-30",
        "blank-description",
        "merchandise-as-description",
        "n/a-as-description",
        "quantity-over-9999",
        "value-in-eur",
        "zero-value",
        "zero-weight",
        "short-hs-code",
        "origin-not-iso",
        "unknown-content-type",
        "long-tax-id",
    ],
)
def test_a_declaration_uspss_customs_form_cannot_take_is_reported_with_dotted_paths(customs, expected):
    spec = _to(fx.APO, customs)

    assert _problems(spec) == expected
    with pytest.raises(base.InvalidShipment):
        _label(spec)


def test_goods_without_an_hs_code_are_accepted_since_usps_looks_it_up():
    spec = _to(fx.APO, dataclasses.replace(fx.CUSTOMS, items=(_item(hs_code=None),)))

    assert _problems(spec) == []
    assert "HSTariffNumber" not in _label(spec)["customsForm"]["contents"][0]


def test_a_declaration_over_the_no_eei_exemption_is_reported():
    at_limit = _item(quantity=100, unit_value=money.Money(Decimal(25), "USD"))
    over = _item(quantity=1, unit_value=money.Money(Decimal("0.01"), "USD"))

    assert _problems(_to(fx.APO, dataclasses.replace(fx.CUSTOMS, items=(at_limit,)))) == []
    assert _problems(_to(fx.APO, dataclasses.replace(fx.CUSTOMS, items=(at_limit, over)))) == [
        ("customs.items", checks.OVER_LIMIT)
    ]


def test_every_problem_of_a_declaration_comes_at_once():
    customs = dataclasses.replace(
        fx.CUSTOMS,
        items=(_item(description="Gift", origin_country="XX"), _item(weight_kg=Decimal(0), hs_code="12")),
    )

    assert _problems(_to(fx.APO, customs)) == [
        ("customs.items.0.description", checks.INVALID_FORMAT),
        ("customs.items.0.origin_country", checks.INVALID_FORMAT),
        ("customs.items.1.weight", checks.NOT_POSITIVE),
        ("customs.items.1.hs_code", checks.INVALID_FORMAT),
    ]


def test_a_domestic_label_never_checks_the_declaration():
    broken = dataclasses.replace(fx.CUSTOMS, items=(_item(description="Gift", origin_country="XX"),))

    assert _problems(dataclasses.replace(fx.SPEC, customs=broken)) == []


# -- the simulator takes the form -------------------------------------------------------------------------


@pytest.fixture
def sim_app_() -> flask.Flask:
    time = sim_support.ManualTime()
    return sim_app.create_app(
        {"seed": 7, "day_seconds": 86_400.0, "exception_share": 0.0}, real_time=time, sleep=time.sleep
    )


@pytest.fixture
def on_sim(sim_app_: flask.Flask) -> Any:
    http = requests.Session()
    http.mount("http://sim/", sim_support.FlaskAdapter(sim_app_))
    config = {
        "client_id": "sim-usps-client",
        "client_secret": "sim-usps-secret",
        "crid": "56982563",
        "mid": "904128936",
        "account_number": "1000405525",
        "base_url": "http://sim/usps",
        "timeout_seconds": 5,
    }
    yield UspsAdapter(
        config,
        session=http,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
    )
    http.close()


def test_the_simulator_sells_a_label_with_a_customs_form_bought_as_a_pdf(on_sim, sim_app_):
    request = carrier.LabelRequest(
        fx.TO_APO, "1000405525", "PRIORITY_MAIL", "shp_0001", carrier.LabelFormat.PNG
    )

    label = on_sim.label(request)

    assert label.label_format == carrier.LabelFormat.PDF and label.label.startswith(b"%PDF")
    [sold] = sim_app_.extensions["handoff_simulator"].ledger.all()
    assert (sold.tracking_number, sold.destination_state, sold.label_format) == (
        label.tracking_numbers[0],
        "AE",
        "PDF",
    )


def test_the_simulator_refuses_a_customs_form_usps_would(sim_app_):
    client = sim_app_.test_client()
    token = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-usps-client",
            "client_secret": "sim-usps-secret",
        },
    ).json["access_token"]
    payment = client.post(
        "/usps/payments/v3/payment-authorization",
        json=mapping.payment_authorization_request({**fx.CONFIG, "account_number": "1000405525"}).json,
        headers={"Authorization": f"Bearer {token}"},
    ).json["paymentAuthorizationToken"]
    headers = {"Authorization": f"Bearer {token}", "X-Payment-Authorization-Token": payment}
    body = _label(fx.TO_APO)
    assert client.post("/usps/labels/v3/label", json=body, headers=headers).status_code == 200

    for broken in (
        {**body, "imageInfo": {**body["imageInfo"], "imageType": "PNG"}},
        {**body, "customsForm": {**body["customsForm"], "contents": []}},
        {**body, "customsForm": {k: v for k, v in body["customsForm"].items() if k != "customsContentType"}},
    ):
        reply = client.post("/usps/labels/v3/label", json=broken, headers=headers)
        assert reply.status_code == 400, broken
        assert "customs" in reply.json["error"]["errors"][0]["detail"]
