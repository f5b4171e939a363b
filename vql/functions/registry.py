"""The registry of functions a connection can call: built-ins plus the catalog's user functions."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from vql.errors import BindError, CatalogError, UDFError, suggestion
from vql.functions.spec import FrameFunction, Function, declared_in


class FunctionRegistry:
    """Name -> function, case-insensitive. Lookups of unknown names raise with a suggestion."""

    def __init__(self, functions: Iterable[Function] = ()):
        self._functions: dict[str, Function] = {}
        for function in functions:
            self.add(function)

    def add(self, function: Function, *, replace: bool = True) -> None:
        """Register ``function`` under its name; with ``replace`` False a name taken is an error."""
        key = function.name.lower()
        if not replace and key in self._functions:
            raise CatalogError(f"function {function.name!r} already exists")
        self._functions[key] = function

    def remove(self, name: str) -> None:
        """Forget the function named ``name`` (any case), if there is one."""
        self._functions.pop(name.lower(), None)

    def get(self, name: str) -> Function | None:
        """The function named ``name`` (any case), or None."""
        return self._functions.get(name.lower())

    def require(self, name: str) -> Function:
        """The function named ``name``; an unknown name raises BindError with a suggestion."""
        function = self.get(name)
        if function is None:
            raise BindError(f"unknown function {name!r}{suggestion(name, self.names())}")
        return function

    def names(self) -> list[str]:
        """The registered names, lower-cased and sorted."""
        return sorted(self._functions)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._functions

    def __iter__(self) -> Iterator[Function]:
        return iter(self._functions[name] for name in self.names())

    def copy(self) -> FunctionRegistry:
        """A new registry of the same functions (adding to one leaves the other alone)."""
        return FunctionRegistry(self)

    def snapshot(self) -> dict[str, Function]:
        """The functions now, for ``restore`` (a transaction that rolls back)."""
        return dict(self._functions)

    def restore(self, snapshot: dict[str, Function]) -> None:
        """Put back the functions of a ``snapshot``, dropping any registered since."""
        self._functions = dict(snapshot)


def load_file(path: str | Path) -> list[FrameFunction]:
    """Execute a Python file and return the frame functions it declares with ``@udf``."""
    source = Path(path).expanduser().resolve()
    if not source.is_file():
        raise CatalogError(f"cannot load functions: no such file {str(path)!r}")
    module_name = f"vql_user_udf_{abs(hash(str(source)))}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise CatalogError(f"cannot load functions from {str(path)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:  # Ctrl-C while it loads: the statement stops, as any other
        sys.modules.pop(module_name, None)
        raise
    except BaseException as error:  # SystemExit in a file ends nothing but its loading
        sys.modules.pop(module_name, None)
        raise UDFError(f"cannot load functions from {str(path)!r}: "
                       f"{type(error).__name__}: {error}") from error
    functions = declared_in(vars(module))
    return [_with_origin(f, str(source)) for f in functions]


def file_hash(path: str | Path) -> str:
    """What a function file is trusted by: the SHA-256 of its bytes, as CREATE FUNCTION read
    them (a file replaced afterwards is not run until it is created again)."""
    import hashlib

    return "sha256:" + hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


def _with_origin(function: FrameFunction, origin: str) -> FrameFunction:
    import hashlib
    from dataclasses import replace

    # The version keys cached results: the code loaded now, not the file as it may be later.
    version = "file " + hashlib.sha256(Path(origin).read_bytes()).hexdigest()[:16]
    return replace(function, origin=origin, version=version)
