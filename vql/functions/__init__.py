"""Function declarations (the ``@udf`` decorator), macros and the registry."""

from vql.functions.spec import FrameFunction, MacroFunction, Param, Traits, udf

__all__ = ["FrameFunction", "MacroFunction", "Param", "Traits", "udf"]
