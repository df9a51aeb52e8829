"""What xlperf needs to behave on Windows as it does on Linux: file names Windows accepts,
a folder lock Windows has, and one switch for the worker start method.

Names: every name xlperf writes goes through :func:`safe_name` (or :func:`fit_name` for a
name derived from an existing file), so it is legal on Windows *and* fits the 255-byte
limit of Linux file systems. A name that has to be cut keeps a stable hash of the whole
text, so two long names that share a beginning never collapse into one file.

Paths: Excel refuses to open a file whose full path exceeds 218 characters (Windows'
MAX_PATH is 260). The limits below keep ``<单位>/<年度>_<项目>_<表格类型>.xlsx`` (plus a
``.bak`` backup) within that for an output folder of up to :data:`OUT_DIR_BUDGET`
characters, e.g. ``C:\\Users\\张三\\Desktop\\2024年绩效\\``.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata

#: Environment variable that forces the start method of every worker pool (``spawn`` is
#: what Windows uses; CI runs the pool tests with it on Linux as the "Windows lane").
START_METHOD_ENV = "XLPERF_MP_START"

#: Excel cannot open a file whose full path is longer than this (Windows MAX_PATH is 260).
EXCEL_PATH_LIMIT = 218
#: Characters reserved for the output folder, e.g. ``C:\Users\张三\Desktop\2024年绩效\申报表\``.
OUT_DIR_BUDGET = 64
#: Bytes a file name may take (ext4, XFS, btrfs: 255 bytes; NTFS: 255 UTF-16 units).
NAME_BYTES = 255
#: Room kept for what xlperf appends to a written name (``_12`` on a collision, ``.bak12``).
SUFFIX_ROOM = 10

_WINDOWS_CHARS = str.maketrans({'<': '＜', '>': '＞', ':': '：', '"': '＂', '/': '／', '\\': '＼', '|': '｜',
                                '?': '？', '*': '＊'})
# C0/C1 controls, format characters (zero-width, bidi overrides) and lone surrogates (not
# encodable as a file name on Linux).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")
# Windows device names, matched before the first dot and ignoring trailing spaces; Windows
# also treats the superscript digits ¹²³ as digits here (COM¹ opens a serial port).
_DIGITS = "0123456789\u00b9\u00b2\u00b3"
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
                      *(f"COM{d}" for d in _DIGITS), *(f"LPT{d}" for d in _DIGITS)})


def is_reserved(name: str) -> bool:
    """True for a name Windows maps to a device (``nul``, ``COM¹.xlsx``, ``CON .txt``…)."""
    return name.split(".")[0].rstrip(" ").upper() in RESERVED


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _cut(text: str, chars: int, nbytes: int, whole: str) -> str:
    """``text`` itself when it fits, else its beginning + ``~`` + a hash of ``whole``."""
    if len(text) <= chars and len(text.encode("utf-8", "surrogatepass")) <= nbytes:
        return text
    tag = "~" + _hash(whole)
    head = text[:max(0, chars - len(tag))]
    while head and len((head + tag).encode("utf-8", "surrogatepass")) > nbytes:
        head = head[:-1]
    return head.rstrip(". ") + tag


def safe_name(text: str, limit: int = 80, *, max_bytes: int = NAME_BYTES - SUFFIX_ROOM) -> str:
    """A file or folder name valid on Windows and on Linux: characters Windows forbids
    become their full-width forms (``"`` → ``＂``, ``/`` → ``／``), control and format
    characters go, white space runs become one space, trailing dots/spaces go, device names
    (CON, COM¹, CONIN$…) get a ``_`` in front, and the name is cut to ``limit`` characters
    and ``max_bytes`` UTF-8 bytes — with a hash of the whole text when cut, so the result
    is stable and two different long names stay different."""
    whole = unicodedata.normalize("NFC", str(text or ""))
    s = _INVISIBLE.sub("", re.sub(r"\s+", " ", whole.translate(_WINDOWS_CHARS))).strip().rstrip(". ")
    s = _cut(s, limit, max_bytes, whole)
    if not s:
        s = "_"
    if is_reserved(s):
        s = _cut("_" + s, limit, max_bytes, whole)
    return s


def fit_name(stem: str, suffix: str, *, max_bytes: int = NAME_BYTES - SUFFIX_ROOM) -> str:
    """``stem + suffix`` for a name derived from an existing file (``报表_重算.xlsx``), the
    stem cut with a hash when the whole would not fit the file-name limit."""
    room = max_bytes - len(suffix.encode("utf-8"))
    return _cut(stem, 255, room, stem).rstrip(". ") + suffix


def casefold_key(name: str) -> str:
    """Key under which Windows (case-insensitive) sees two names as the same file."""
    return unicodedata.normalize("NFC", name).casefold()


# ------------------------------------------------------------------ worker start method

def mp_context(default: str | None = None):
    """The multiprocessing context for a worker pool: the method named by ``XLPERF_MP_START``
    when set (an unknown name is an error, not a silent fallback), else ``default``, else
    the platform's default."""
    import multiprocessing as mp

    from .errors import XlperfError

    method = os.environ.get(START_METHOD_ENV, "").strip().lower() or default
    methods = mp.get_all_start_methods()
    if method and method not in methods:
        raise XlperfError(f"环境变量 {START_METHOD_ENV}={method} 无效，本系统可用：{'、'.join(methods)}。")
    return mp.get_context(method)


def forced_start_method() -> str | None:
    return os.environ.get(START_METHOD_ENV, "").strip().lower() or None


# ------------------------------------------------------------------ folder lock

#: Byte locked on Windows: far past the end of the locked file, so writes to the file itself
#: (the journal) never touch it — Windows byte-range locks are mandatory.
LOCK_OFFSET = 1 << 30
#: Test hook / override: ``fcntl`` or ``msvcrt`` (the default is what the system has).
LOCK_ENV = "XLPERF_LOCK"


def try_lock(fd: int) -> bool:
    """Take an exclusive, non-blocking lock tied to ``fd`` (released when it is closed or the
    process dies, kill -9 included). False when another process holds it."""
    kind = os.environ.get(LOCK_ENV) or ("fcntl" if os.name != "nt" else "msvcrt")
    if kind == "fcntl":
        import fcntl
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
    import msvcrt  # Windows; tests substitute a stand-in module with the same contract
    here = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    finally:
        os.lseek(fd, here, os.SEEK_SET)
    return True


# ------------------------------------------------------------------ worker memory cap (Windows)

_JOB = None   # the Job Object handle: kept open for the life of the worker, or the limit goes


def cap_memory_windows(limit: int) -> bool:
    """Windows form of the harvest worker's memory cap (Linux uses RLIMIT_AS): put this
    process in a Job Object whose per-process committed-memory limit is ``limit`` bytes, so
    an allocation past it fails (MemoryError or the worker dies: that file's finding) instead
    of the PC paging to a halt. Needs pywin32 (installed with xlperf on Windows); without it
    False, and the size limits of the reader remain the guard."""
    global _JOB
    try:
        import win32api
        import win32job
    except ImportError:
        return False
    try:
        job = win32job.CreateJobObject(None, "")
        info = win32job.QueryInformationJobObject(job, win32job.JobObjectExtendedLimitInformation)
        info["ProcessMemoryLimit"] = int(limit)
        info["BasicLimitInformation"]["LimitFlags"] |= win32job.JOB_OBJECT_LIMIT_PROCESS_MEMORY
        win32job.SetInformationJobObject(job, win32job.JobObjectExtendedLimitInformation, info)
        win32job.AssignProcessToJobObject(job, win32api.GetCurrentProcess())
    except Exception:  # noqa: BLE001 - e.g. already in a job that forbids nesting (Windows 7)
        return False
    _JOB = job
    return True
