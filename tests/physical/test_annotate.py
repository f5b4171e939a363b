"""The physical annotation: after binding, each call gets its device and the cost measured
there (ANALYZE's profiles) in place of the function's declared cost."""

from __future__ import annotations

import pytest
from vql.catalog import Profile

import vql
from vql.bind.binder import Binder
from vql.physical.annotate import Placement
from vql.plan.nodes import ApplyUDF, Relational, UDFCall
from vql.sql.parse import parse_one


def _bound(con: vql.Connection, sql: str) -> Relational:
    engine = con.engine
    return Binder(engine.catalog, engine.registry, ()).bind(parse_one(sql)).plan


def _calls(plan: Relational) -> dict[str, UDFCall]:
    return {n.call.function: n.call for node in plan.inputs for n in node.walk()
            if isinstance(n, ApplyUDF)}


def _profile(function: str, variant: str, batch: int, ms: float, device: str = "cpu",
             resolution: str = "native") -> Profile:
    return Profile("intersection", function, variant, device, batch, ms, 16, "test",
                   resolution)


SQL = "SELECT avg(brightness), count(*) FILTER (WHERE motion > 0.1) FROM intersection"


def test_the_binder_leaves_declared_costs_on_the_cpu(road: vql.Connection) -> None:
    calls = _calls(_bound(road, SQL))
    assert {c.cost_source for c in calls.values()} == {"declared"}
    assert {c.device for c in calls.values()} == {"cpu"}


def test_a_measured_cost_replaces_the_declared_one(road: vql.Connection) -> None:
    measured = [
        _profile("brightness", "()", 8, 0.9),
        _profile("brightness", "()", 16, 0.4),     # the batch size closest to 16
        _profile("brightness", "()", 64, 0.1),
        _profile("brightness", "()", 16, 0.05, resolution="half"),  # not native: ignored
        _profile("motion", "(1,)", 16, 3.0),       # another variant than the call's
    ]
    asked: list[str] = []

    def profiles(table: str) -> list[Profile]:
        asked.append(table)
        return measured

    placement = Placement(road.engine.registry, profiles, "cpu", batch_size=16)
    calls = _calls(placement.plan(_bound(road, SQL)))
    assert (calls["brightness"].cost_ms, calls["brightness"].cost_source) == (0.4, "measured")
    assert calls["motion"].cost_source == "declared"
    assert asked == ["intersection"]  # each table's profiles are read once


def test_an_unknown_device_policy_is_one_clear_error(road: vql.Connection) -> None:
    placement = Placement(road.engine.registry, lambda table: [], "gpu")
    with pytest.raises(vql.DeviceError, match="VQL_DEVICE='gpu': use one of auto, cpu, cuda"):
        placement.plan(_bound(road, SQL))
