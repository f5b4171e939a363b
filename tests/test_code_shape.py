"""The shape of the code itself (issue 14): short functions, and a docstring on every public
definition. The layers are checked by ``lint-imports`` in ``make lint`` (pyproject.toml)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import statistics
import types
from collections.abc import Iterator
from pathlib import Path

import vql

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("vql", "udfs", "catalog")  # udfs and catalog install as vql.udfs and vql.catalog


def _function_lengths() -> list[int]:
    """Lines of every function and method (nested ones too), decorators excluded."""
    lengths = []
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lengths.append(_last_line(node) - node.lineno + 1)
    return sorted(lengths)


def _last_line(node: ast.AST) -> int:
    """The last line of ``node``."""
    end = getattr(node, "end_lineno", None)
    assert end is not None
    return int(end)


def test_functions_stay_short() -> None:
    # The field's model codebases: median under 15 lines, p90 under 60 (the anchors);
    # VQL was at median 6-7 and p90 19-21 when this test was written: keep it there.
    lengths = _function_lengths()
    assert len(lengths) > 500
    p90 = lengths[int(0.9 * len(lengths))]
    assert statistics.median(lengths) <= 8, statistics.median(lengths)
    assert p90 <= 25, p90
    assert lengths[-1] <= 80, "a function of more than 80 lines: split it"


def _modules() -> Iterator[types.ModuleType]:
    for package in (vql, importlib.import_module("vql.udfs"),
                    importlib.import_module("vql.catalog")):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            yield importlib.import_module(info.name)


def _public(module: types.ModuleType) -> Iterator[tuple[str, object]]:
    """The public functions, classes, methods and properties defined in ``module``."""
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value):
            yield name, value
            for attribute, member in vars(value).items():
                if attribute.startswith("_"):
                    continue
                if isinstance(member, property):
                    yield f"{name}.{attribute}", member
                elif inspect.isfunction(getattr(member, "__func__", member)):
                    yield f"{name}.{attribute}", getattr(value, attribute)


def _documented(name: str, value: object) -> bool:
    """A docstring of its own or inherited (inspect.getdoc), and not the signature a
    dataclass writes for itself."""
    doc = inspect.getdoc(value)
    return bool(doc) and not (inspect.isclass(value) and str(doc).startswith(f"{name}("))


def test_every_public_definition_has_a_docstring() -> None:
    # A method that overrides a documented one inherits its docstring.
    missing = [f"{module.__name__}.{name}" for module in _modules()
               for name, value in _public(module)
               if not _documented(name.rsplit(".", 1)[-1], value)]
    assert not missing, "no docstring: " + ", ".join(missing)
