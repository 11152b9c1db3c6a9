"""Validation before purchase: a label builder refuses exactly when the carrier's ``check`` reports problems.

For generated shipments and every carrier/service, ``Adapter.check`` (what ``POST …/validate`` answers)
and the label request builder agree: a clean check means the builder builds (nothing this check could have
reported fails a purchase), and a builder refusal carries exactly the check's problems.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters import base, checks, registry
from adapters.dhl_express import mapping as dhl
from adapters.fedex import mapping as fedex
from adapters.ups import mapping as ups
from adapters.usps import mapping as usps
from schemas import carrier, money, types

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _build_ups(request: carrier.LabelRequest) -> Any:
    return ups.ship_request(request, None)


def _build_fedex(request: carrier.LabelRequest) -> Any:
    return fedex.ship_request(request, "740561073")


def _build_dhl(request: carrier.LabelRequest) -> Any:
    return dhl.label_request(
        request,
        account="123456789",
        ship_time=NOW,
        message_time=NOW,
        message_reference="r" * 30,
        contents="Merchandise",
    )


def _build_usps(request: carrier.LabelRequest) -> Any:
    service = usps.Service.parse(request.service_code, "SP", "MACHINABLE")
    return usps.label_request(request, service, date(2026, 3, 2), {})


# carrier -> (builder, a label format it prints, services to try: real ones and malformed ones)
CARRIERS: dict[str, tuple[Callable[[carrier.LabelRequest], Any], carrier.LabelFormat, list[str]]] = {
    "ups": (_build_ups, carrier.LabelFormat.ZPL, ["03", "11", "14", "65", "93"]),
    "fedex": (
        _build_fedex,
        carrier.LabelFormat.PDF,
        ["FEDEX_GROUND", "PRIORITY_OVERNIGHT", "INTERNATIONAL_PRIORITY", "GROUND_HOME_DELIVERY"],
    ),
    "dhl_express": (_build_dhl, carrier.LabelFormat.PDF, ["P", "D", "N", "", "PLUS"]),
    "usps": (
        _build_usps,
        carrier.LabelFormat.PDF,
        ["PRIORITY_MAIL", "USPS_GROUND_ADVANTAGE", "PRIORITY_MAIL/SP/MACHINABLE", "", "A//B"],
    ),
}

_text = st.one_of(
    st.sampled_from(["", " ", "Ann Lee", "Handoff GmbH", "x" * 36, "x" * 46, "a  b " * 9]),
    st.text(alphabet="ab -1", min_size=0, max_size=60),
)
_optional = st.one_of(st.none(), _text)
_phones = st.one_of(
    st.none(),
    st.sampled_from(
        ["", "  ", "+1 212 555 0100", "(310) 555-0199", "555-0100", "+49 30 1234", "1" * 30, "n/a"]
    ),
)
_postal = st.sampled_from(
    ["", " ", "10001", "10001-1234", "100011234", "6311", "K1A0B1", "K1A 0B1", "k1a0b1", "75001", "1" * 13]
)
_address = st.builds(
    types.Address,
    country_code=st.sampled_from(["US", "PR", "CA", "DE", "FR", "GB", "JP", "USA"]),
    postal_code=_postal,
    city=st.sampled_from(["", " ", "New York", "x" * 36, "Leipzig"]),
    street_lines=st.lists(st.sampled_from(["", " ", "1 Main St", "Floor 3", "y" * 36]), max_size=4).map(
        tuple
    ),
    state=st.one_of(st.none(), st.sampled_from(["", "NY", "ON", " CA ", "Bavaria"])),
    name=_optional,
    company=_optional,
    phone=_phones,
    email=st.one_of(st.none(), st.sampled_from(["", " ", "jane@example.com", "j" * 51])),
)
_size = st.decimals(min_value=Decimal("-1"), max_value=Decimal("400"), places=2)
_parcel = st.builds(
    types.Parcel,
    weight_kg=st.decimals(min_value=Decimal("-1"), max_value=Decimal("80"), places=3),
    length_cm=_size,
    width_cm=_size,
    height_cm=_size,
    declared_value=st.one_of(
        st.none(),
        st.builds(
            money.Money, st.decimals(min_value=1, max_value=900, places=2), st.sampled_from(["USD", "EUR"])
        ),
    ),
)
_spec = st.builds(
    types.ShipmentSpec,
    origin=_address,
    destination=_address,
    parcels=st.lists(_parcel, max_size=3).map(tuple),
    options=st.sets(st.sampled_from(["documents", "signature", "saturday"])).map(frozenset),
)


_NEW_YORK = types.Address(
    "US", "10001", "New York", ("350 5th Ave",), "NY", name="Jane Doe", phone="+1 212 555 0100"
)
_ST_LOUIS = types.Address(
    "US", "63118", "St. Louis", ("1 Main St",), "MO", company="Handoff Inc", phone="(314) 555-0100"
)
_LEIPZIG = types.Address(
    "DE", "04109", "Leipzig", ("Augustusplatz 1",), name="Handoff Test", phone="+49 341 000000"
)
_USD_BOX = types.Parcel(
    Decimal("2"), Decimal("30"), Decimal("20"), Decimal("10"), money.Money(Decimal(50), "USD")
)
# A shipment each carrier takes (for its first service): mutated one field at a time below.
VALID: dict[str, types.ShipmentSpec] = {
    "ups": types.ShipmentSpec(_ST_LOUIS, _NEW_YORK, (_USD_BOX,)),
    "fedex": types.ShipmentSpec(_ST_LOUIS, _NEW_YORK, (_USD_BOX,)),
    "usps": types.ShipmentSpec(_ST_LOUIS, _NEW_YORK, (_USD_BOX,)),
    "dhl_express": types.ShipmentSpec(_LEIPZIG, _NEW_YORK, (_USD_BOX,)),
}


def _near(valid: types.ShipmentSpec) -> st.SearchStrategy[types.ShipmentSpec]:
    """The valid spec, or it with one party field, one party or the parcels replaced by generated ones."""

    def party_field(role: str, field: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return values.map(
            lambda v: dataclasses.replace(
                valid, **{role: dataclasses.replace(getattr(valid, role), **{field: v})}
            )
        )

    fields = {
        "phone": _phones,
        "postal_code": _postal,
        "name": _optional,
        "company": _optional,
        "state": st.one_of(st.none(), st.sampled_from(["", "NY", "Bavaria"])),
        "street_lines": st.lists(st.sampled_from(["", "1 Main St", "y" * 36]), max_size=4).map(tuple),
        "country_code": st.sampled_from(["US", "CA", "DE", "GB", "PR"]),
        "email": st.sampled_from(["", " ", "jane@example.com", "j" * 51]),
    }
    return st.one_of(
        st.just(valid),
        *(party_field(role, f, v) for role in ("origin", "destination") for f, v in fields.items()),
        st.lists(_parcel, min_size=1, max_size=2).map(
            lambda ps: dataclasses.replace(valid, parcels=tuple(ps))
        ),
        _address.map(lambda a: dataclasses.replace(valid, destination=a)),
    )


def test_each_carrier_takes_its_valid_shipment():
    for name, (build, label_format, services) in CARRIERS.items():
        assert registry.adapter_class(name).check(VALID[name], services[0]) == []
        build(carrier.LabelRequest(VALID[name], "A1B2C3", services[0], "shp_01VALID", label_format))


@pytest.mark.parametrize("name", sorted(CARRIERS))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_label_builder_refuses_exactly_what_the_check_reports(name, data):
    spec = data.draw(st.one_of(_spec, _near(VALID[name])), label="spec")
    build, label_format, services = CARRIERS[name]
    service = data.draw(st.sampled_from(services), label="service")
    problems = registry.adapter_class(name).check(spec, service)
    event("refused" if problems else "clean")
    request = carrier.LabelRequest(spec, "A1B2C3", service, "shp_01PROPERTY", label_format)
    try:
        build(request)
    except base.CarrierRejected as exc:
        assert problems, f"{name} builder refused what the check passed: {exc}"
        assert isinstance(exc, base.InvalidShipment)
        # Every problem the refusal names is one the check reported (USPS reads its service code first,
        # so that refusal names the service alone; the others refuse with the whole list).
        reported = {(p.path, p.code, p.message) for p in problems}
        assert exc.problems
        assert {(p.path, p.code, p.message) for p in exc.problems} <= reported
    else:
        assert problems == [], f"{name} check reported problems the builder did not refuse: {problems}"


@pytest.mark.parametrize("name", sorted(CARRIERS))
@settings(max_examples=100, deadline=None)
@given(spec=_spec, data=st.data())
def test_every_problem_has_a_dotted_path_into_the_booking_body_and_a_stable_code(name, spec, data):
    service = data.draw(st.sampled_from(CARRIERS[name][2]))
    codes = {value for key, value in vars(checks).items() if key.isupper() and isinstance(value, str)}
    roots = {"origin", "destination", "parcels", "service", "customs"}
    for problem in registry.adapter_class(name).check(spec, service):
        assert problem.path.split(".")[0] in roots
        assert problem.code in codes
        assert problem.message


GOOD = types.Address(
    "DE", "04109", "Leipzig", ("Augustusplatz 1",), name="Handoff Test", phone="+49 341 000000"
)
BOX = types.Parcel(
    Decimal("1.2"), Decimal("20"), Decimal("30"), Decimal("10"), money.Money(Decimal(120), "EUR")
)


def test_dhl_express_reports_a_recipient_without_a_phone_before_any_purchase():
    recipient = types.Address("US", "10001", "New York", ("350 5th Ave",), "NY", name="Jane Doe")
    spec = types.ShipmentSpec(GOOD, recipient, (BOX,))

    problems = registry.adapter_class("dhl_express").check(spec, "P")

    assert [(p.path, p.code) for p in problems] == [("destination.phone", "required")]
    assert "phone" in problems[0].message


def test_a_check_reports_every_problem_at_once():
    recipient = types.Address("US", "1000", "", (), "", email="j" * 60)
    heavy = types.Parcel(Decimal("40"), Decimal("20"), Decimal("30"), Decimal("10"))
    spec = types.ShipmentSpec(GOOD, recipient, (heavy, heavy))

    paths = {p.path for p in registry.adapter_class("usps").check(spec, "PRIORITY_MAIL")}

    assert {
        "parcels",
        "parcels.0.weight",
        "origin.country_code",
        "destination.street_lines",
        "destination.state",
        "destination.name",
        "destination.postal_code",
    } <= paths


def test_an_adapter_without_rules_reports_nothing():
    spec = types.ShipmentSpec(GOOD, GOOD, ())
    assert registry.adapter_class("fleet").check(spec, "same_day") == []
