"""The simulator never issues a tracking number twice: not in one run, not after a restart.

Its serials come from counters kept in its data directory, so a restarted simulator with the same
seed carries on where it stopped instead of replaying the numbers it already sold.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from simulator import __main__ as cli
from simulator import numbers
from tests.unit.simulator.sim_payloads import dhl_ship, ups_ship_body
from tests.unit.simulator.sim_support import basic


def _ups_numbers(app: Any, count: int) -> list[str]:
    client = app.test_client()
    token = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("sim-ups-client", "sim-ups-secret")},
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}", "transId": "t-1", "transactionSrc": "tests"}
    sold = []
    for i in range(count):
        reply = client.post(
            "/api/shipments/v2409/ship", json=ups_ship_body(reference=f"shp_u{i}"), headers=headers
        )
        assert reply.status_code == 200, reply.json
        sold.append(reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"])
    return sold


def _dhl_numbers(app: Any, count: int) -> list[str]:
    client = app.test_client()
    sold = []
    for i in range(count):
        reply = client.post(
            "/sndpt/expressRateBook",
            data=dhl_ship(reference=f"shp_d{i}"),
            content_type="text/xml; charset=utf-8",
        )
        assert reply.status_code == 200, reply.data
        root = etree.fromstring(reply.data)
        [waybill] = [
            el.text
            for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).localname == "ShipmentIdentificationNumber"
        ]
        sold.append(waybill)
    return sold


def test_a_restarted_simulator_with_the_same_seed_never_reissues_a_tracking_number(make_app, tmp_path):
    settings = {"data_dir": str(tmp_path), "ledger_path": str(tmp_path / "ledger.jsonl")}
    first = make_app(**settings)
    before = _ups_numbers(first, 5) + _dhl_numbers(first, 5)

    restarted = make_app(**settings)  # same seed, same data directory: a restart
    after = _ups_numbers(restarted, 5) + _dhl_numbers(restarted, 5)

    assert len(set(before + after)) == 20
    assert all(numbers.ups_number_is_valid(n) for n in before[:5] + after[:5])
    assert all(numbers.dhl_waybill_is_valid(n) for n in before[5:] + after[5:])
    kept = json.loads((tmp_path / "counters.json").read_text())
    assert set(kept) >= {numbers.UPS_PACKAGE, numbers.DHL_WAYBILL, numbers.DHL_PIECE}
    # The replayed ledger holds all twenty labels: none was refused as "already issued".
    assert len(restarted.extensions["handoff_simulator"].ledger.all()) == 20


def test_a_reset_forgets_the_labels_but_not_the_numbers_already_issued(make_app, tmp_path):
    app = make_app(data_dir=str(tmp_path))
    before = _dhl_numbers(app, 3)
    app.extensions["handoff_simulator"].reset()
    assert set(_dhl_numbers(app, 3)).isdisjoint(before)


def test_simulators_sharing_a_data_directory_never_take_the_same_serial(tmp_path):
    counters = [numbers.Counters(tmp_path, seed=7) for _ in range(4)]  # four processes, one directory
    taken: list[int] = []
    guard = threading.Lock()

    def take(counter: numbers.Counters) -> None:
        for _ in range(50):
            serials = counter.take(numbers.UPS_PACKAGE, 2)
            with guard:
                taken.extend(serials)

    threads = [threading.Thread(target=take, args=(c,)) for c in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(taken) == 400 and len(set(taken)) == 400


def test_without_a_data_directory_numbers_are_still_unique_within_the_run(make_app):
    app = make_app()
    sold = _ups_numbers(app, 30)
    assert len(set(sold)) == 30


def test_a_used_up_counter_refuses_instead_of_starting_over(tmp_path):
    (tmp_path / "counters.json").write_text(json.dumps({numbers.UPS_PACKAGE: 10**7 - 1}))
    counter = numbers.Counters(tmp_path)
    assert list(counter.take(numbers.UPS_PACKAGE)) == [10**7 - 1]
    with pytest.raises(numbers.NumbersExhausted):
        counter.take(numbers.UPS_PACKAGE)


def test_the_command_line_keeps_the_counters_in_a_data_directory_by_default(tmp_path: Path):
    _args, default = cli.parse_args([])
    assert default.data_dir == "var/simulator"
    _args, given = cli.parse_args(["--data-dir", str(tmp_path)])
    assert given.data_dir == str(tmp_path)
