"""A session with one database: the engine (connection, transaction, catalog, functions),
the handler of each statement, and how a query is planned and run (EXPLAIN included)."""
