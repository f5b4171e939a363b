"""The Python DB-API 2.0 (PEP 249) interface."""
