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


# Chinese for the operating-system errors a user can meet when xlperf reads or writes files.
_OS_ERRORS = {
    "ENOSPC": "磁盘空间不足，请腾出空间后重新运行（已写好的文件完整保留）",
    "EDQUOT": "磁盘配额已满，请腾出空间后重新运行（已写好的文件完整保留）",
    "ENAMETOOLONG": "文件名或路径过长，请换一个较短的输出文件夹",
    "EACCES": "没有权限（文件可能正被 Excel 等程序打开，或文件夹只读）",
    "EPERM": "没有权限（文件可能正被 Excel 等程序打开，或文件夹只读）",
    "EROFS": "文件夹所在的磁盘是只读的",
    "ENOENT": "找不到文件或文件夹",
    "EEXIST": "文件已存在",
    "EISDIR": "这是一个文件夹，不是文件",
    "ENOTDIR": "路径中有一段不是文件夹",
    "EIO": "磁盘读写出错",
    "EMFILE": "同时打开的文件过多",
    "EBUSY": "文件正被其他程序使用",
}


def os_error_text(exc: OSError) -> str:
    """One Chinese phrase for an OSError (the errno's meaning), never a traceback."""
    import errno

    name = errno.errorcode.get(getattr(exc, "errno", None) or -1, "")
    if name in _OS_ERRORS:
        return _OS_ERRORS[name]
    if getattr(exc, "winerror", None) == 32:  # ERROR_SHARING_VIOLATION
        return _OS_ERRORS["EBUSY"]
    return f"系统错误（{exc.strerror or exc}）"
