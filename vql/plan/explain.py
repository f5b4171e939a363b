"""EXPLAIN text: the logical plan, the optimized logical plan and the physical plan."""

from __future__ import annotations

import typing as t

from vql.plan.nodes import PlanNode, Relational


def render_tree(root: t.Any, label: t.Callable[[t.Any], str],
                children: t.Callable[[t.Any], t.Sequence[t.Any]]) -> list[str]:
    """Text lines drawing the tree under ``root``: each node's ``label``, indented by depth."""
    lines: list[str] = []

    def visit(node: t.Any, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{label(node)}")
        kids = list(children(node))
        extension = "" if top else ("   " if last else "│  ")
        for i, child in enumerate(kids):
            visit(child, prefix + extension, i == len(kids) - 1, False)

    visit(root, "", True, True)
    return lines


def logical_lines(plan: Relational) -> list[str]:
    """The logical plan as a tree, one node a line (a Relational with its rows needed)."""
    def label(node: PlanNode) -> str:
        if isinstance(node, Relational):
            needed = f" [rows needed: {node.rows_needed}]" if node.rows_needed is not None else ""
            return f"{node.label()}{needed}"
        return node.label()

    return render_tree(plan, label, lambda node: node.children())


def physical_lines(plan: Relational, operators: t.Sequence[t.Any]) -> list[str]:
    """The physical plan: the SQL DuckDB runs, then each pipeline's operator tree."""
    lines = [f"DuckDB executes: {plan.sql}"]
    for op in operators:
        lines.extend("  " + line for line in render_tree(
            op, lambda o: o.describe(), lambda o: o.children))
    return lines
