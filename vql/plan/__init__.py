"""Logical plans: immutable nodes and their text rendering."""
