"""The physical annotation of a bound plan: the device each function call computes on, and its
cost per frame there.

The binder gives each call its function's declared cost and leaves the device to this step,
which runs before the optimizer (it orders filters and cascades by these costs). The device
policy (``VQL_DEVICE``, ``vql.kernels.placement``) picks one of the devices the function
declares and this process has; a cost ANALYZE measured on that device, at the batch size
closest to the configured one, replaces the declared cost.
"""

from __future__ import annotations

import dataclasses
import typing as t
from collections.abc import Callable

from vql.functions.registry import FunctionRegistry
from vql.kernels.device import available_devices
from vql.kernels.placement import choose_device
from vql.plan.nodes import (
    ApplyUDF,
    PlanNode,
    Relational,
    UDFCall,
    VideoScan,
    chain,
    profiles_of,
    rebuild,
)

if t.TYPE_CHECKING:
    from vql.catalog import Profile


@dataclasses.dataclass
class Placement:
    """Places the calls of one statement's plan (each table's profiles are read once)."""

    registry: FunctionRegistry
    profiles: Callable[[str], list[Profile]]  # a video table's measured costs
    policy: str = "auto"                      # the device policy (Settings.device)
    batch_size: int = 16                      # the configured batch size
    _read: dict[str, list[Profile]] = dataclasses.field(default_factory=dict)

    def plan(self, plan: Relational) -> Relational:
        """``plan`` with every function call placed."""
        return plan.replace(inputs=tuple(self._node(node) for node in plan.inputs))

    def _node(self, node: PlanNode) -> PlanNode:
        if isinstance(node, Relational):
            return self.plan(node)
        nodes = chain(node)
        scan = nodes[0]
        if not isinstance(scan, VideoScan):
            return node
        placed = [n.replace(call=self.call(scan.table, n.call)) if isinstance(n, ApplyUDF)
                  else n for n in nodes]
        return rebuild(placed)

    def call(self, table: str, call: UDFCall) -> UDFCall:
        """``call`` on its device, with the cost measured there where ANALYZE measured it."""
        function = self.registry.require(call.function)
        measured = self.costs(table, call, function.traits.devices)
        device = choose_device(function.traits.devices, available_devices(), self.policy,
                               measured)
        if device in measured:
            return dataclasses.replace(call, device=device, cost_ms=measured[device],
                                       cost_source="measured")
        return dataclasses.replace(call, device=device)

    def costs(self, table: str, call: UDFCall, devices: t.Sequence[str]) -> dict[str, float]:
        """The measured cost per frame of ``call`` at native resolution on each device it was
        measured on, at the batch size closest to the configured one."""
        if table not in self._read:
            self._read[table] = self.profiles(table)
        costs: dict[str, float] = {}
        for device in devices:
            matches = profiles_of(self._read[table], call.function, call.constants, device,
                                  "native")
            if matches:
                best = min(matches, key=lambda p: abs(p.batch_size - self.batch_size))
                costs[device] = best.ms_per_frame
        return costs
