"""Binding: names resolved against the catalog, VQL clauses lifted into typed options."""
