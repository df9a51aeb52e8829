"""``xlperf.history.open(db)``: the database as DataFrames, for notebooks."""
from __future__ import annotations

import pandas as pd

from . import analyses
from .store import connect

_TABLES = ("forms", "funds", "indicators", "findings", "files", "changes", "loads", "overrides")


class History:
    """A read-only view of a history database. Tables are attributes (``h.forms``,
    ``h.indicators`` …, DECIMAL columns as ``Decimal``); each analysis is a method returning a
    DataFrame (``h.drift()``, ``h.unit_year()`` …) with the thresholds of ``profile``."""

    def __init__(self, db, profile: str | None = None):
        self.db = db
        self.settings = analyses.settings(profile)
        self.con = connect(db, read_only=True)
        self._prepared = False

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def sql(self, query: str, params=None) -> pd.DataFrame:
        """Any query (the tables above plus, after an analysis, the temp tables fx/main/ix)."""
        return analyses.frame(self.con, query, params)

    def __getattr__(self, name):
        if name in _TABLES:
            return self.sql(f"SELECT * FROM {name}")
        if name in analyses.ANALYSES:
            fn = analyses.ANALYSES[name][0]

            def run():
                self.prepare()
                return fn(self.con, self.settings)
            run.__doc__ = fn.__doc__
            return run
        raise AttributeError(name)

    def prepare(self) -> None:
        if not self._prepared:
            analyses.prepare(self.con, self.settings)
            self._prepared = True

    def all(self) -> dict[str, pd.DataFrame]:
        """Every analysis, by name."""
        self.prepare()
        return {name: fn(self.con, self.settings) for name, (fn, _title) in analyses.ANALYSES.items()}

