"""Multi-year history of harvested forms in one embedded DuckDB file (``xlperf history``).

``history add`` loads what :mod:`xlperf.harvest` reads and :mod:`xlperf.validate` finds
(:mod:`.store`); :mod:`.identity` recognises projects across years; :mod:`.analyses` answers
the questions asked across years (execution by unit, target drift, easy targets, self-score
inflation, projects new/continued/ended, indicator-set changes); ``history report`` writes
them as an offline HTML page and a workbook (:mod:`.report`).

Notebook use::

    from xlperf import history
    h = history.open("绩效历史.duckdb")
    h.forms            # DataFrames
    h.drift()

Importing this package is cheap (the CLI registers it on every start): pandas and DuckDB
are imported when a database is opened.
"""
from __future__ import annotations

from .cli import register_cli  # noqa: F401
from .store import DEFAULT_DB, SCHEMA_VERSION, HistoryError, LoadReport, add, connect  # noqa: F401


def open(db, profile: str | None = None):  # noqa: A001 - the API the issue asks for
    """A read-only :class:`xlperf.history.api.History` of ``db`` (tables and analyses as DataFrames)."""
    from .api import History
    return History(db, profile)
