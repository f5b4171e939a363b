"""What a VQL function is: a frame function (Python, over pixels) or a macro (an expression).

Built-in and user UDFs are declared with the same decorator, ``@udf``::

    @udf(inputs=["frame", "label:str"], returns=pa.int64(), cost_ms=15)
    def count_red(frames, label): ...

Calling conventions (``frames`` is a uint8 array N x H x W x 3 in RGB order):

* batchable (default): ``fn(frames, *constants)`` returns N values;
* ``batchable=False``: ``fn(frame, *constants)`` returns one value (H x W x 3 input);
* ``stateful=True``: the decorated object is a class; the engine creates one instance per video
  stream with ``cls(*constants)`` and calls it with frames in presentation order, as above;
  with ``timed=True`` also with their timestamps in seconds, ``obj(frames, ts=...)`` (under
  ``SAMPLE`` the gaps between frames vary: a tracker predicts motion over the real time).
* ``devices=("cpu", "cuda")``: the function can also compute on a CUDA device; it then takes a
  keyword argument ``device`` (``fn(frames, *constants, device=...)``, or ``cls(*constants,
  device=...)`` when stateful) and must return the same values on each, within a tolerance it
  documents. The optimizer picks the device (``VQL_DEVICE``); ``vql.kernels`` has array
  kernels for both.

Arguments after ``frame`` must be constants (literals or bound parameters). A parameter of type
``source`` may name another frame function (``track(frame, 'my_detector')``): the function then
receives a ``FunctionRef`` and opens that function's evaluator itself, for each video it sees.
"""

from __future__ import annotations

import ast
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sqlglot import exp

from vql.errors import DeviceError
from vql.kernels.device import DEVICES

PARAM_TYPES: dict[str, type | tuple[type, ...]] = {
    "frame": np.ndarray, "str": str, "int": int, "float": (int, float), "bool": bool,
    "strs": tuple,  # a list of strings: a literal ['a', 'b'] or one string 'a'
    "any": object,  # a macro's parameter: any expression, of ``Param.sql_type`` when declared
    # a string the function knows ('person'), or the name of another frame function whose
    # values it takes (a user's detector): the binder passes a ``FunctionRef`` for the latter
    "source": str,
}


SQL_TYPE_NAMES = {"frame": "FRAME", "str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE",
                  "bool": "BOOLEAN", "strs": "VARCHAR[]", "any": "",
                  "source": "VARCHAR"}


class _NoDefault:
    def __repr__(self) -> str:
        return "<required>"


NO_DEFAULT: t.Any = _NoDefault()


@dataclass(frozen=True, slots=True)
class Param:
    """A function parameter; a default of None makes it optional, NULL when not given.
    ``sql_type``: the DuckDB type a macro's parameter was declared with (``k INTEGER``)."""

    name: str
    type: str
    default: t.Any = NO_DEFAULT
    sql_type: str = ""

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}; "
                             f"use one of {sorted(PARAM_TYPES)}")

    @property
    def required(self) -> bool:
        """Whether a call must give this parameter (it has no default)."""
        return self.default is NO_DEFAULT

    @classmethod
    def parse(cls, spec: str | Param) -> Param:
        """'frame', 'label:str' or "model:str='fastestdet'" -> Param."""
        if isinstance(spec, Param):
            return spec
        head, _, default = spec.partition("=")
        name, _, kind = head.partition(":")
        name, kind = name.strip(), (kind.strip() or name.strip())
        value = ast.literal_eval(default.strip()) if default.strip() else NO_DEFAULT
        return cls(name, kind, value)

    def describe(self) -> str:
        """The parameter as a signature shows it: ``label VARCHAR``, ``model VARCHAR = 'x'``."""
        kind = self.sql_type or SQL_TYPE_NAMES[self.type]
        text = self.name if self.type == "frame" or not kind else f"{self.name} {kind}"
        default = "NULL" if self.default is None else repr(self.default)
        return text if self.required else f"{text} = {default}"


@dataclass(frozen=True, slots=True)
class Traits:
    """What the optimizer may do with a function (DataFusion's volatility, EvaDB's metadata)."""

    deterministic: bool = True   # same frame and constants -> same value: may be cached/reordered
    batchable: bool = True       # takes a batch of frames at once
    stateful: bool = False       # needs every frame of a video, in order (no filter pushed below)
    devices: tuple[str, ...] = ("cpu",)
    cost_ms: float = 1.0         # declared CPU cost per frame, until profiles measure it
    timed: bool = False          # also takes the frames' timestamps (``ts=``, seconds)


def signature(name: str, params: tuple[Param, ...]) -> str:
    """``name(param, ...)``, each parameter as ``Param.describe`` writes it."""
    return f"{name}({', '.join(p.describe() for p in params)})"


class Evaluator(t.Protocol):
    """One video's function: N values for N frames (N x H x W x 3) and their timestamps in
    seconds (None: evenly spaced; only a ``timed`` function reads them)."""

    def __call__(self, frames: np.ndarray, ts: np.ndarray | None = None) -> Sequence[t.Any]:
        """The values of ``frames``, in order."""


@dataclass(frozen=True, slots=True)
class FrameFunction:
    """A Python function of a frame, with declared inputs, output Arrow type and traits."""

    name: str
    params: tuple[Param, ...]
    returns: pa.DataType
    traits: Traits
    impl: t.Any
    doc: str = ""
    origin: str = "builtin"
    version: str = ""  # what cached results are keyed by: a user file's hash ("" built-in)
    # Validates the constant arguments when a query is bound (raises a vql error), so that a
    # mistake is reported before any frame is decoded.
    check: Callable[..., None] | None = None

    kind: t.ClassVar[str] = "udf"

    @property
    def cacheable(self) -> bool:
        """Whether its results may be cached: deterministic. A stateful function's values are
        cached only where it saw every frame of a video in order, and served for whole
        videos (vql/exec/reuse.py)."""
        return self.traits.deterministic

    def cache_version(self) -> str:
        """What its cached values are keyed by: the user file's hash, or ``vql <version>``
        for a built-in."""
        from vql.version import __version__

        return self.version or f"vql {__version__}"

    def signature(self) -> str:
        """The call with its parameters and their types, as SHOW FUNCTIONS lists it."""
        return signature(self.name, self.params)

    def result_type(self) -> str:
        """The Arrow type of its value, as text (SHOW FUNCTIONS)."""
        return str(self.returns)

    def open(self, constants: tuple[t.Any, ...], device: str = "cpu") -> Evaluator:
        """An evaluator for one ordered stream of frames (one video) with bound constants,
        computing on ``device`` (one of ``traits.devices``)."""
        if device not in self.traits.devices:
            raise DeviceError(f"{self.name} cannot run on {device!r}: it runs on "
                              f"{', '.join(self.traits.devices)}")
        # Only functions that declare more than the CPU take the device argument.
        on = {"device": device} if self.traits.devices != ("cpu",) else {}
        target = self.impl(*constants, **on) if self.traits.stateful else self.impl
        extra = () if self.traits.stateful else constants
        keywords = {} if self.traits.stateful else on
        if self.traits.timed:  # a stateful, batched function told when each frame is
            return lambda frames, ts=None: target(frames, *extra, ts=ts, **keywords)
        if self.traits.batchable:
            return lambda frames, ts=None: target(frames, *extra, **keywords)
        return lambda frames, ts=None: [target(frame, *extra, **keywords) for frame in frames]


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """Another frame function passed by name to a ``source`` parameter: the function receiving
    it opens it (``open``) and takes its values. Shown, filed and compared by its name and
    version."""

    name: str
    function: FrameFunction = field(compare=False)
    version: str | None = None  # its cache version; None: its values are never cached

    def __repr__(self) -> str:
        return repr(self.name)

    def open(self, device: str = "cpu") -> Evaluator:
        """An evaluator of the named function, its other parameters at their defaults, for one
        ordered stream of frames."""
        return self.function.open(tuple(p.default for p in self.function.params[1:]), device)


@dataclass(frozen=True, slots=True)
class MacroFunction:
    """A function defined by an expression over its parameters, expanded by the binder."""

    name: str
    params: tuple[Param, ...]
    body: str
    expand: Callable[[dict[str, exp.Expr]], exp.Expr]
    doc: str = ""
    origin: str = "builtin"
    returns: str = ""
    # What a query using it should be told (once), e.g. that it falls back to another method.
    notice: Callable[[], str | None] | None = None

    kind: t.ClassVar[str] = "macro"

    def signature(self) -> str:
        """The call with its parameters and their types, as SHOW FUNCTIONS lists it."""
        return signature(self.name, self.params)

    def result_type(self) -> str:
        """Its declared result type, or "expression" when none was declared."""
        return self.returns or "expression"

    @property
    def traits(self) -> Traits:
        """The default traits: a macro is expanded into SQL, never called on frames."""
        return Traits()


Function = FrameFunction | MacroFunction


@dataclass(frozen=True, slots=True)
class Declared:
    """Marker the decorator leaves on an object: the spec of the function it declares."""

    spec: FrameFunction


def udf(
    name: str | None = None,
    *,
    inputs: Sequence[str | Param],
    returns: pa.DataType,
    deterministic: bool = True,
    batchable: bool = True,
    stateful: bool = False,
    devices: Sequence[str] = ("cpu",),
    cost_ms: float = 1.0,
    check: Callable[..., None] | None = None,
    timed: bool = False,
) -> Callable[[t.Any], t.Any]:
    """Declare a frame function. The first input must be ``frame``. ``check``, if given, is
    called with the constant arguments when a query is bound and raises on bad ones."""
    params = tuple(Param.parse(p) for p in inputs)
    if not params or params[0].type != "frame":
        raise ValueError("the first input of a frame function must be 'frame'")
    if not isinstance(returns, pa.DataType):
        raise TypeError(f"returns must be a pyarrow DataType, not {type(returns).__name__}")
    unknown = sorted(set(devices) - set(DEVICES))
    if "cpu" not in devices or unknown:
        raise ValueError(f"devices must include 'cpu' and name only {', '.join(DEVICES)}; "
                         f"got {tuple(devices)}")
    if timed and not (stateful and batchable):
        raise ValueError("timed=True is for stateful, batched functions: they are called "
                         "with the frames' timestamps as ts=")
    traits = Traits(deterministic, batchable, stateful, tuple(devices), float(cost_ms), timed)

    def declare(obj: t.Any) -> t.Any:
        if stateful and not isinstance(obj, type):
            raise TypeError(f"stateful function {obj.__name__!r} must be a class")
        fname = (name or obj.__name__).lower()
        doc = (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else ""
        obj.__vql_function__ = Declared(FrameFunction(fname, params, returns, traits, obj, doc,
                                                      check=check))
        return obj

    return declare


def declared_in(namespace: dict[str, t.Any]) -> list[FrameFunction]:
    """The functions declared with ``@udf`` among a module's globals, in definition order."""
    found = []
    for value in namespace.values():
        marker = getattr(value, "__vql_function__", None)
        if isinstance(marker, Declared):
            found.append(marker.spec)
    return found
