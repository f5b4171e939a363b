"""Physical planning: pure decisions. Logical nodes -> executable operators (``planner``), the
cost model (``cost``) and the knobs a target can turn (``knobs``)."""
