"""Typing into a workbook the way Excel stores what people type (issue 13 item 4).

``=100%`` typed into a General cell is a formula whose cached value Excel saves with it
(``<f>100%</f><v>1</v>``); 95% typed is the number 0.95 with a percent number format; 1/2
becomes a date. openpyxl writes a formula without its cached value, so the value Excel would
have saved is put into the sheet XML afterwards.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl


def type_cells(path: Path, typed: dict[str, tuple], sheet: str | None = None) -> None:
    """Type into the cells of the workbook at ``path`` (in place): ``typed`` maps an A1 reference
    to ``(value, number_format, cached)``; a value starting with "=" is a formula and ``cached``
    is the value Excel saves with it (a number as text, e.g. "1"), else ``cached`` is unused."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet] if sheet else wb.active
    index = wb.worksheets.index(ws) + 1
    cached = {}
    for ref, (value, fmt, cache) in typed.items():
        cell = ws[ref]
        cell.value = value
        cell.number_format = fmt
        if isinstance(value, str) and value.startswith("="):
            cached[ref] = cache
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(with_cached_values(buf.getvalue(), f"xl/worksheets/sheet{index}.xml", cached))


def with_cached_values(data: bytes, part: str, cached: dict[str, str]) -> bytes:
    """The workbook ``data`` with the cached values of these formula cells of ``part`` set."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == part:
                for ref, value in cached.items():
                    body, n = re.subn(rb'(<c r="' + ref.encode() + rb'"[^>]*>\s*<f>[^<]*</f>)\s*(?:<v\s*/>|<v>[^<]*</v>)?',
                                      rb"\1<v>" + value.encode() + rb"</v>", body)
                    assert n == 1, (part, ref)
            dst.writestr(info, body)
    return out.getvalue()
