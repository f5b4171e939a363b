"""Execution: physical operators that stream Arrow record batches, and statement handlers."""
