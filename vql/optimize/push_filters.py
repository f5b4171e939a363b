"""Rule: evaluate each pipeline filter as early as its inputs allow, cheapest first.

Before (the reference order the binder builds)::

    Project <- Filter(ts < 10) <- Filter(c1) <- ApplyUDF detect -> c1 <- ApplyUDF motion? ...
            <- Decode <- VideoScan

After::

    Project <- ApplyUDF ... <- Filter(c1) <- ApplyUDF detect -> c1 <- Decode <- Filter(ts < 10)
            <- VideoScan

A filter that needs no UDF output runs before decoding; the others run right after the UDFs
they read, ordered by the declared cost of the UDFs they still need, so that frames failing a
cheap predicate never reach an expensive UDF. Stateful UDFs must see every frame in order, so
when a pipeline has one, every stateful UDF runs first and no filter moves below it. Results
are unchanged: filters are pure, and stateless UDFs compute each row independently.
"""

from __future__ import annotations

from vql.plan.nodes import ApplyUDF, Decode, Filter, PlanNode, Relational, chain, rebuild


def push_filters(plan: Relational) -> Relational:
    """The plan with each pipeline's filters as early as their inputs allow, cheapest first."""
    return plan.replace(inputs=tuple(_reorder(node) for node in plan.inputs))


def _reorder(root: PlanNode) -> PlanNode:
    nodes = chain(root)
    filters = [n for n in nodes if isinstance(n, Filter)]
    if not filters:
        return root
    udfs = [n for n in nodes if isinstance(n, ApplyUDF)]
    decode = [n for n in nodes if isinstance(n, Decode)]
    head = [n for n in nodes if not isinstance(n, ApplyUDF | Filter | Decode)]
    base, tail = head[:-1], head[-1:]  # tail is the Project (and any Limit above filters)
    while base and not _is_source_side(base[-1]):
        tail.insert(0, base.pop())
    stateful = [u for u in udfs if u.call.stateful]
    stateless = [u for u in udfs if not u.call.stateful]
    by_column = {u.call.column: u for u in stateless}

    def cost(f: Filter) -> float:
        return sum(by_column[c].call.cost_ms for c in f.columns if c in by_column)

    ordered = sorted(filters, key=cost)  # stable: equal costs keep the user's order
    early = [] if stateful else [f for f in ordered if not f.columns & _udf_columns(udfs)]
    out: list[PlanNode] = [*base, *early, *decode, *stateful]
    done = {u.call.column for u in stateful}

    def place(column: str) -> None:
        """A function's column, after the columns its guard (a CASE condition) reads."""
        for need in sorted(by_column[column].call.needs & by_column.keys() - done,
                           key=lambda c: stateless.index(by_column[c])):
            place(need)
        if column not in done:
            out.append(by_column[column])
            done.add(column)

    for f in (f for f in ordered if f not in early):
        for column in sorted(f.columns & by_column.keys() - done,
                             key=lambda c: stateless.index(by_column[c])):
            place(column)
        out.append(f)
    out.extend(u for u in stateless if u.call.column not in done)
    return rebuild(out + tail)


def _udf_columns(udfs: list[ApplyUDF]) -> set[str]:
    return {u.call.column for u in udfs}


def _is_source_side(node: PlanNode) -> bool:
    from vql.plan.nodes import Sample, VideoScan

    return isinstance(node, VideoScan | Sample)
