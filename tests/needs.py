"""Tests that need a system tool (LibreOffice, pdftoppm): skipped on a developer machine
without it, failed in CI (``CI=true``), where .ci/install-system-deps must have put it."""
from __future__ import annotations

import os
import shutil

import pytest

from xlperf import libreoffice


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require(tool: str = "soffice") -> str:
    """The tool's path; else fail in CI, skip elsewhere."""
    try:
        if tool == "soffice":
            return libreoffice.find_soffice()
        path = shutil.which(tool)
        if path is None:
            raise libreoffice.LibreOfficeMissing(f"{tool} not found on PATH")
        return path
    except libreoffice.LibreOfficeMissing as exc:
        msg = f"{exc} (run .ci/install-system-deps)"
        if in_ci():
            pytest.fail(msg)  # CI must never skip the spreadsheet-engine check
        pytest.skip(msg)
