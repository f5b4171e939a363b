"""The logical optimizer: rules run in one fixed order, each switched by one options object.

Every rule here is lossless: the optimized plan returns exactly the reference plan's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vql.optimize.push_filters import push_filters
from vql.optimize.push_limit import push_limit
from vql.optimize.reuse_results import reuse_results
from vql.plan.nodes import Relational


@dataclass(frozen=True, slots=True)
class OptimizerOptions:
    """Which lossless rules the optimizer runs; every one is on by default."""

    push_filters: bool = True
    push_limit: bool = True
    reuse_results: bool = True

    @classmethod
    def reference(cls) -> OptimizerOptions:
        """Every rule off: the plan that defines what a query means."""
        return cls(push_filters=False, push_limit=False, reuse_results=False)


# The order matters: filters move first, so that the limit lands above every filter, and
# reuse wraps the functions where the filters left them.
RULES: tuple[tuple[str, Callable[[Relational], Relational]], ...] = (
    ("push_filters", push_filters),    # cheap predicates before expensive UDFs and decoding
    ("push_limit", push_limit),        # then stop decoding once a plain LIMIT is satisfied
    ("reuse_results", reuse_results),  # cached function values instead of decoding
)


def optimize(plan: Relational, options: OptimizerOptions = OptimizerOptions()) -> Relational:
    """``plan`` rewritten by each rule that ``options`` switches on, in the order of RULES."""
    for name, rule in RULES:
        if getattr(options, name):
            plan = rule(plan)
    return plan
