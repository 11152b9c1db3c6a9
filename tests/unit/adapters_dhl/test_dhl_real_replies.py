"""DHL Express replies as real carriers send them (issue 17): unpriced products, several waybills, junk.

Every reply is written here from the facts in the published WSDLs (``getRateRequest`` →
``Provider/Service[]{TotalNet, Charges{Currency, Charge[]}}``; ``trackShipmentRequest`` →
``AWBInfo/ArrayOfAWBInfoItem[]``), not copied from a capture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses
from lxml import etree

from adapters import base
from adapters.dhl_express import callback, client, mapping
from schemas import carrier, events, money

ENVELOPE = (
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>{}'
    "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)
RATE_OPEN = (
    '<rateresp:RateResponse xmlns:rateresp="http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgResponse">'
    '<Provider code="DHL"><Notification code="0"><Message/></Notification>'
)
RATE_CLOSE = "</Provider></rateresp:RateResponse>"


def _body(root: etree._Element) -> etree._Element:
    body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert body is not None
    return body[0]


def service(code: str, amount: str, currency: str = "EUR", charges: str = "") -> str:
    return (
        f'<Service type="{code}" account="123456789">'
        f"<TotalNet><Currency>{currency}</Currency><Amount>{amount}</Amount></TotalNet>"
        f"<Charges><Currency>{currency}</Currency>{charges}</Charges>"
        f"<DeliveryTime>2024-05-08T23:59:00</DeliveryTime><ServiceName>PRODUCT {code}</ServiceName>"
        "<TotalTransitDays>2</TotalTransitDays></Service>"
    )


def charge(kind: str, amount: str, code: str = "") -> str:
    code_node = f"<ChargeCode>{code}</ChargeCode>" if code else ""
    return f"{code_node}<Charge><ChargeType>{kind}</ChargeType><ChargeAmount>{amount}</ChargeAmount></Charge>"


def rate_body(*services: str) -> etree._Element:
    root = etree.fromstring(ENVELOPE.format(RATE_OPEN + "".join(services) + RATE_CLOSE).encode())
    return _body(root)


def test_an_unpriced_product_is_left_out_and_the_others_are_kept():
    body = rate_body(
        service("P", "61.17", charges=charge("EXPRESS WORLDWIDE", "61.17")),
        # DHL lists the product but cannot price it: empty <Currency/> (and amount) on its total.
        service("Y", "", currency=""),
        service("K", "98.05", charges=charge("EXPRESS 9:00", "98.05")),
        service("U", "70.00", currency=""),
        service("T", "110.50", charges=charge("EXPRESS 12:00", "110.50")),
    )

    rates = mapping.parse_rate_response(body)

    assert [r.service_code for r in rates] == ["P", "K", "T"]
    assert rates[0].total == money.Money(Decimal("61.17"), "EUR")


def test_an_empty_amount_on_an_optional_charge_drops_that_line_only():
    body = rate_body(
        service(
            "P",
            "61.17",
            charges=charge("EXPRESS WORLDWIDE", "52.40")
            + charge("FUEL SURCHARGE", "8.77")
            + "<Charge><ChargeType>SATURDAY DELIVERY</ChargeType><ChargeAmount/></Charge>",
        )
    )

    (rate,) = mapping.parse_rate_response(body)

    assert [line.description for line in rate.charges] == ["EXPRESS WORLDWIDE", "FUEL SURCHARGE"]
    assert sum((line.amount for line in rate.charges), money.Money.zero("EUR")) == rate.total


def test_an_empty_currency_on_a_charge_group_falls_back_to_the_total_currency():
    body = rate_body(
        service("P", "61.17", charges=charge("EXPRESS WORLDWIDE", "61.17")).replace(
            "<Charges><Currency>EUR</Currency>", "<Charges><Currency/>"
        )
    )

    (rate,) = mapping.parse_rate_response(body)

    assert [line.amount for line in rate.charges] == [money.Money(Decimal("61.17"), "EUR")]


def test_a_reply_where_no_product_is_readable_is_unavailable_not_rejected():
    body = rate_body(service("P", "", currency=""), service("K", "abc"))

    with pytest.raises(base.CarrierUnavailable) as err:
        mapping.parse_rate_response(body)

    assert err.value.retryable is True
    assert "P, K" in err.value.message


def test_a_rate_reply_over_http_keeps_the_priced_products(make_adapter, spec):
    adapter: client.DhlExpressAdapter = make_adapter()
    envelope = ENVELOPE.format(RATE_OPEN + service("P", "61.17") + service("Y", "", "") + RATE_CLOSE)
    with responses.RequestsMock() as mock:
        mock.post(adapter.rate_book_url, body=envelope, content_type="text/xml")
        rates = adapter.rate(carrier.RateRequest(spec=spec, account="123456789"))

    assert [r.service_code for r in rates] == ["P"]


# -- tracking --------------------------------------------------------------------------------------------

TRACK_OPEN = (
    '<ser-root:trackShipmentRequestResponse xmlns:ser-root="http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/'
    'providers/services/trackShipment"><trackingResponse><ns:TrackingResponse xmlns:ns="http://www.dhl.com">'
    "<AWBInfo>"
)
TRACK_CLOSE = "</AWBInfo></ns:TrackingResponse></trackingResponse></ser-root:trackShipmentRequestResponse>"


def checkpoint(day: str, clock: str, code: str, text: str, signatory: str | None = None) -> str:
    signed = "" if signatory is None else f"<Signatory>{signatory}</Signatory>"
    return (
        f"<ArrayOfShipmentEventItem><Date>{day}</Date><Time>{clock}</Time>"
        f"<ServiceEvent><EventCode>{code}</EventCode><Description>{text}</Description></ServiceEvent>"
        f"{signed}<ServiceArea><ServiceAreaCode>JFK</ServiceAreaCode>"
        "<Description>NEW YORK - USA</Description></ServiceArea></ArrayOfShipmentEventItem>"
    )


def awb(number: str, *checkpoints: str) -> str:
    return (
        f"<ArrayOfAWBInfoItem><AWBNumber>{number}</AWBNumber><Status><ActionStatus>Success</ActionStatus>"
        f"</Status><ShipmentInfo><ShipmentEvent>{''.join(checkpoints)}</ShipmentEvent></ShipmentInfo>"
        "</ArrayOfAWBInfoItem>"
    )


def track_body(*awbs: str) -> etree._Element:
    root = etree.fromstring(ENVELOPE.format(TRACK_OPEN + "".join(awbs) + TRACK_CLOSE).encode())
    return _body(root)


def test_a_polled_delivery_keeps_the_signatory_like_the_callback_does():
    body = track_body(awb("1234567890", checkpoint("2024-05-08", "14:32:00", "OK", "Delivered", "J. DOE")))

    (delivered,) = mapping.parse_track_response(body, "1234567890").events
    polled = client.DhlExpressAdapter.canonical(delivered, events.EventSource.POLL)
    (pushed,) = callback.parse(
        {
            "awb": "1234567890",
            "event": {"date": "2024-05-08", "time": "14:32:00", "code": "OK", "signatory": "J. DOE"},
        },
        client.DhlExpressAdapter.code_table(),
    )

    assert dict(polled.attributes)["signatory"] == "J. DOE"
    assert dict(pushed.event.attributes)["signatory"] == "J. DOE"
    assert dict(polled.attributes)["local_time_zone_known"] == "false"


@pytest.mark.parametrize("junk", ["00:00:00", "-", " ", "N/A", "0"])
def test_junk_signatory_values_are_not_stored(junk):
    body = track_body(awb("1234567890", checkpoint("2024-05-08", "14:32:00", "OK", "Delivered", junk)))

    (delivered,) = mapping.parse_track_response(body, "1234567890").events
    (pushed,) = callback.parse(
        {"awb": "1234567890", "event": {"date": "2024-05-08", "code": "OK", "signatory": junk}},
        client.DhlExpressAdapter.code_table(),
    )

    assert "signatory" not in delivered.attributes
    assert "signatory" not in delivered.raw
    assert "signatory" not in dict(pushed.event.attributes)


def test_several_waybills_in_one_reply_are_not_merged():
    body = track_body(
        awb("1234567890", checkpoint("2024-05-06", "17:05:00", "PU", "Shipment picked up")),
        awb("9876543210", checkpoint("2024-05-07", "08:00:00", "OK", "Delivered", "SMITH")),
    )

    result = mapping.parse_track_response(body, "1234567890")

    assert [(e.tracking_number, e.code) for e in result.events] == [("1234567890", "PU")]


def test_a_piece_id_answered_under_its_waybill_keeps_the_waybills_events():
    body = track_body(awb("1234567890", checkpoint("2024-05-06", "17:05:00", "PU", "Shipment picked up")))

    result = mapping.parse_track_response(body, "JD014600003828111111")

    assert [e.code for e in result.events] == ["PU"]


def test_descriptions_lose_embedded_line_breaks_and_indentation():
    text = "Shipment picked up\n                    at the  origin"
    body = track_body(awb("1234567890", checkpoint("2024-05-06", "17:05:00", "PU", text)))

    (event,) = mapping.parse_track_response(body, "1234567890").events

    assert event.description == "Shipment picked up at the origin"


def test_an_unreadable_tracking_reply_is_unavailable():
    body = track_body(awb("1234567890", checkpoint("2024-13-45", "17:05:00", "PU", "Picked up")))

    with pytest.raises(base.CarrierUnavailable):
        mapping.parse_track_response(body, "1234567890")


def test_checkpoint_times_stay_utc_wall_clock_when_no_offset_is_given():
    body = track_body(awb("1234567890", checkpoint("2024-05-06", "17:05:00", "PU", "Picked up")))

    (event,) = mapping.parse_track_response(body, "1234567890").events

    assert event.occurred_at == datetime(2024, 5, 6, 17, 5, tzinfo=UTC)
