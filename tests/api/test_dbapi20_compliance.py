"""The third-party DB-API 2.0 compliance suite (dbapi20.py, from the dbapi-compliance package)
run against vql.connect."""

from __future__ import annotations

import dbapi20

import vql


class TestDBAPI20Compliance(dbapi20.DatabaseAPI20Test):
    driver = vql
    connect_args = ()
    connect_kw_args = {"database": ":memory:"}
    lower_func = "lower"

    def test_setoutputsize(self) -> None:
        # setoutputsize is accepted and ignored (PEP 249 allows it); check it is callable.
        con = self._connect()
        try:
            cur = con.cursor()
            cur.setoutputsize(1000)
            cur.setoutputsize(1000, 0)
        finally:
            con.close()

    def test_nextset(self) -> None:
        # nextset is optional in PEP 249 and VQL does not offer multiple result sets.
        con = self._connect()
        try:
            self.assertFalse(hasattr(con.cursor(), "nextset"))
        finally:
            con.close()
