"""Execution: physical operators that stream Arrow record batches (decoding, functions,
filters, reuse of cached values, the latency controller)."""
