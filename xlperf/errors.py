"""Error types shared by every front end.

Messages are Chinese because end users read them; a location (file, sheet, cell)
is attached by whichever front end knows it, so the core never guesses one.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    file: str | None = None
    sheet: str | None = None
    cell: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"文件「{self.file}」")
        if self.sheet:
            parts.append(f"工作表「{self.sheet}」")
        if self.cell:
            parts.append(f"单元格 {self.cell}")
        return "，".join(parts)


class XlperfError(ValueError):
    """Base of all xlperf errors: a Chinese message plus an optional location."""

    def __init__(self, message: str, location: Location | None = None):
        self.message = message
        self.location = location
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.location and str(self.location):
            return f"{self.location}：{self.message}"
        return self.message

    def at(self, file=None, sheet=None, cell=None) -> "XlperfError":
        """Return a copy of this error that names where it happened."""
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        err.location = Location(
            str(file) if file is not None else None, sheet, cell)
        Exception.__init__(err, str(err))
        return err


class NotationError(XlperfError):
    """A 指标值 / 实际完成值 / amount text that cannot be read."""


class ScoringError(XlperfError):
    """Inputs that the scoring rules cannot score (e.g. spending without a budget)."""


class ProfileError(XlperfError):
    """A missing or malformed scoring profile."""
