"""SQL text to trees: the VQL dialect of sqlglot (``dialect``) and parsing helpers (``parse``)."""
