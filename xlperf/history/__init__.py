"""Multi-year history of harvested forms in one embedded DuckDB file (``xlperf history``).

``history add`` loads what :mod:`xlperf.harvest` reads and :mod:`xlperf.validate` finds;
:mod:`.analyses` answers the questions asked across years (execution by unit, target drift,
easy targets, self-score inflation, projects new/continued/ended, indicator-set changes);
``history report`` writes them as an offline HTML page and a workbook.

Notebook use::

    from xlperf import history
    h = history.open("绩效历史.duckdb")
    h.forms            # DataFrames
    h.drift()
"""
from __future__ import annotations

from .store import DEFAULT_DB, SCHEMA_VERSION, HistoryError, LoadReport, add, connect  # noqa: F401
from .api import History, open  # noqa: F401,A004
from .cli import register_cli  # noqa: F401
