"""Map each logical node to a physical operator through a registry keyed by node type.

The choices made here are the lossless defaults of this release: CPU for every function, the
configured batch size, decord's own seeking for sampled frames. The cost-based optimizer will
make them from measured profiles.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

from vql.catalog import Catalog
from vql.errors import InternalError
from vql.exec import operators as ops
from vql.functions.registry import FunctionRegistry
from vql.functions.spec import FrameFunction
from vql.plan import nodes as n
from vql.settings import Settings


class PhysicalPlanner:
    def __init__(self, catalog: Catalog, registry: FunctionRegistry, settings: Settings):
        self.catalog = catalog
        self.registry = registry
        self.settings = settings

    def plan(self, node: n.PlanNode) -> ops.Operator:
        builder = PHYSICAL.get(type(node))
        if builder is None:
            raise InternalError(f"no physical operator for logical node {type(node).__name__}")
        return builder(self, node)

    def child(self, node: n.PlanNode) -> ops.Operator:
        return self.plan(node.children()[0])


def _scan(planner: PhysicalPlanner, node: n.VideoScan) -> ops.Operator:
    videos = planner.catalog.videos_of(node.table)
    timestamps = {v.video_id: planner.catalog.timestamps(v.video_id) for v in videos}
    return ops.FrameScan(node.table, videos, timestamps, planner.settings.batch_size)


def _sample(planner: PhysicalPlanner, node: n.Sample) -> ops.Operator:
    return ops.SampleOp(planner.child(node), node.fps, planner.settings.batch_size)


def _decode(planner: PhysicalPlanner, node: n.Decode) -> ops.Operator:
    return ops.DecodeOp(planner.child(node), planner.settings.effective_threads())


def _udf(planner: PhysicalPlanner, node: n.ApplyUDF) -> ops.Operator:
    function = planner.registry.require(node.call.function)
    if not isinstance(function, FrameFunction):
        raise InternalError(f"{node.call.function} is not a frame function")
    return ops.UDFOp(planner.child(node), node.call, function)


def _filter(planner: PhysicalPlanner, node: n.Filter) -> ops.Operator:
    return ops.FilterOp(planner.child(node), node.predicate, node.params)


def _limit(planner: PhysicalPlanner, node: n.Limit) -> ops.Operator:
    return ops.LimitOp(planner.child(node), node.count)


def _project(planner: PhysicalPlanner, node: n.Project) -> ops.Operator:
    return ops.ProjectOp(planner.child(node), node.view, node.columns, node.encode_frame)


PHYSICAL: dict[type, Callable[[PhysicalPlanner, t.Any], ops.Operator]] = {
    n.VideoScan: _scan,
    n.Sample: _sample,
    n.Decode: _decode,
    n.ApplyUDF: _udf,
    n.Filter: _filter,
    n.Limit: _limit,
    n.Project: _project,
}
