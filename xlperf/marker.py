"""Recognising xlperf's own output files by a mark nobody else can make.

A file is "ours" (a 汇总.xlsx this user's xlperf wrote, a report, a recalc sheet) only
when it carries a token that is an HMAC, under a secret key kept in this user's xlperf
configuration folder, of

* what the file holds (every part but the one carrying the token), and
* optionally where it was written (its resolved absolute path).

So a unit cannot make a form pass for our output by naming sheets 项目汇总/指标明细/
检查结果 or by copying the properties of a real summary (the key never leaves the admin's
machine; a copied summary sits at another path; an edited one holds other content).
Whatever fails the check is treated as foreign: read as a form, never overwritten
without ``--force``. The sealing and checking functions are generic (:func:`seal`,
:func:`verify`) with wrappers for xlsx (a custom document property) and HTML (a
``<meta>``).

The key: ``$XLPERF_CONFIG_DIR`` or the platform's user configuration folder
(``%APPDATA%\\xlperf``, ``~/.config/xlperf``), file ``marker.key``, 32 random bytes, created
on first use with owner-only permissions. When it cannot be stored, a key for this process
only is used: nothing written earlier verifies, which errs on the safe side (files are read,
not skipped; outputs are not overwritten without ``--force``).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
import sys
import zipfile
from pathlib import Path
from collections.abc import Iterable

__all__ = ["seal", "verify", "seal_xlsx", "verify_xlsx", "verify_xlsx_file", "seal_html", "verify_html",
           "verify_html_file", "where_of", "PROPERTY", "HtmlSealer", "seal_digests", "with_custom_part", "custom_xml"]

PROPERTY = "xlperf_marker"          # custom document property (xlsx) / meta name (HTML)
_VERSION = b"xlperf-marker-1"
_KEY_FILE = "marker.key"
_process_key: bytes | None = None


def _config_dir() -> Path:
    env = os.environ.get("XLPERF_CONFIG_DIR")
    if env:
        return Path(env)
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "xlperf"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "xlperf"


def _key() -> bytes:
    global _process_key
    path = _config_dir() / _KEY_FILE
    try:
        data = _read_key(path)
        if data is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_BINARY", 0), 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
            finally:
                os.close(fd)
            data = _read_key(path)
        if data:
            return data
    except OSError:
        pass
    if _process_key is None:      # unusable config folder: a key that dies with the process
        _process_key = secrets.token_bytes(32)
    return _process_key


def _open_regular(path, limit: int, *, follow: bool = False) -> int | None:
    """A read-only descriptor of ``path`` when it is a regular file of at most ``limit``
    bytes, else None: no FIFO is waited on (O_NONBLOCK), no link followed unless ``follow``.
    Errors of ``os.open`` propagate."""
    import stat
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags if follow else flags | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size <= limit:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _read_key(path: Path) -> bytes | None:
    try:
        fd = _open_regular(path, 64)
    except FileNotFoundError:
        return None
    if fd is None:
        return b""
    try:
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    return data if len(data) == 32 else b""


def where_of(path) -> str:
    """The location a mark is bound to: the resolved absolute path (links resolved, so a link
    to a summary is the summary)."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def seal(content: bytes | Iterable[bytes], where=None) -> str:
    """The token for ``content`` (bytes, or chunks taken in order) written at ``where``
    (a path; None binds to content only, for files that travel, e.g. recalc's sheet)."""
    chunks = [content] if isinstance(content, (bytes, bytearray)) else content
    return _seal_hashed((hashlib.sha256(chunk).digest() for chunk in chunks), where)   # length-safe framing


def _seal_hashed(digests: Iterable[bytes], where=None) -> str:
    """:func:`seal` of chunks given by their SHA-256 digests (content hashed as it was written)."""
    h = hmac.new(_key(), _VERSION, hashlib.sha256)
    h.update(b"\0" + (where_of(where).encode("utf-8", "surrogateescape") if where is not None else b"*") + b"\0")
    for digest in digests:
        h.update(digest)
    return h.hexdigest()


def verify(token: str | None, content: bytes | Iterable[bytes], where=None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), seal(content, where))


# ------------------------------------------------------------------ xlsx

_CUSTOM = "docProps/custom.xml"
_CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
_CUSTOM_CT = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_TOKEN_RE = re.compile(rb'name="' + PROPERTY.encode() + rb'"[^>]*>\s*<vt:lpwstr>([0-9a-f]{64})</vt:lpwstr>')


def _content_chunks(parts: dict[str, bytes]) -> list[bytes]:
    out = []
    for name in sorted(parts):
        if name != _CUSTOM:
            out += [name.encode("utf-8", "surrogateescape"), parts[name]]
    return out


CUSTOM_PART = _CUSTOM


def with_custom_part(parts: dict[str, bytes]) -> dict[str, bytes]:
    """``parts`` of an xlsx with [Content_Types].xml and _rels/.rels pointing to the custom
    properties part that will carry the mark (:func:`custom_xml`, written last). The
    workbook must not carry custom properties of its own."""
    if _CUSTOM in parts:
        raise ValueError("workbook already has custom properties")
    parts = dict(parts)
    ct = parts["[Content_Types].xml"]
    parts["[Content_Types].xml"] = ct.replace(
        b"</Types>", b'<Override PartName="/' + _CUSTOM.encode() + b'" ContentType="' + _CUSTOM_CT.encode()
        + b'"/></Types>')
    rels = parts["_rels/.rels"]
    parts["_rels/.rels"] = rels.replace(
        b"</Relationships>", b'<Relationship Id="rIdXlperfMarker" Type="' + _CUSTOM_REL.encode()
        + b'" Target="' + _CUSTOM.encode() + b'"/></Relationships>')
    return parts


def seal_digests(digests: dict[str, bytes], where) -> str:
    """The mark of an xlsx whose parts (all but the custom properties) were hashed as they
    were written: part name → SHA-256 of its content. Equals :func:`seal` over
    :func:`_content_chunks` of the parts themselves (what :func:`verify_xlsx` checks)."""
    def chunks():
        for name in sorted(digests):
            if name != _CUSTOM:
                yield hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
                yield digests[name]
    return _seal_hashed(chunks(), where)


def custom_xml(token: str) -> bytes:
    """The custom properties part that carries ``token``."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="' + PROPERTY + '">'
        f"<vt:lpwstr>{token}</vt:lpwstr></property></Properties>").encode()


def seal_xlsx(data: bytes, where) -> bytes:
    """Return the xlsx ``data`` with a custom property that marks it as written by xlperf at
    ``where``. The workbook must not carry custom properties of its own."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = with_custom_part({i.filename: zf.read(i) for i in zf.infolist()})
    parts[_CUSTOM] = custom_xml(seal(_content_chunks(parts), where))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for name, body in parts.items():
            out.writestr(name, body)
    return buf.getvalue()


def verify_xlsx(parts: dict[str, bytes], where) -> bool:
    """Whether the decompressed parts of an xlsx (e.g. :attr:`xlperf.safezip.Container.parts`)
    carry a valid mark for ``where``."""
    custom = parts.get(_CUSTOM)
    m = _TOKEN_RE.search(custom) if custom else None
    return bool(m) and verify(m.group(1).decode(), _content_chunks(parts), where)


#: What :func:`verify_xlsx_file` inflates at most (a 20,000-form summary holds ~270 MB of XML,
#: beyond the reader's 50 MB limit for a form): a zip bomb passed off as a summary costs that
#: much inflating, never memory.
VERIFY_BUDGET = 2**32


def verify_xlsx_file(path, budget: int = VERIFY_BUDGET) -> bool:
    """:func:`verify_xlsx` for a file on disk, streamed: each part inflated piece by piece
    and hashed, never held whole (a summary of 20,000 forms is far beyond what a form may
    inflate to). Only a regular file (no link followed, no FIFO opened); any anomaly —
    duplicate or odd entries, encryption, a method Excel does not use, more than
    ``budget`` bytes inflated, a bad CRC — or error means "not ours"."""
    try:
        fd = _open_regular(path, 2**31)
    except OSError:
        return False
    if fd is None:
        return False
    try:
        with os.fdopen(os.dup(fd), "rb") as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len({n.casefold() for n in names}) != len(names) or len(names) > 1000:
                return False
            left = budget
            digests: dict[str, bytes] = {}
            custom = None
            for info in infos:
                if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    return False
                if info.filename == _CUSTOM:
                    if info.file_size > 1 << 16:
                        return False
                    custom = zf.read(info)
                    continue
                h = hashlib.sha256()
                with zf.open(info) as part:
                    while True:
                        chunk = part.read(1 << 20)
                        if not chunk:
                            break
                        left -= len(chunk)
                        if left < 0:
                            return False
                        h.update(chunk)
                digests[info.filename] = h.digest()
    except Exception:  # noqa: BLE001 - whatever cannot be read this way is not ours
        return False
    finally:
        os.close(fd)
    m = _TOKEN_RE.search(custom) if custom else None
    return bool(m) and hmac.compare_digest(m.group(1).decode(), seal_digests(digests, path))


# ------------------------------------------------------------------ HTML

_META_RE = re.compile(r'<meta name="' + PROPERTY + r'" content="([0-9a-f]{0,64})">')
_META_EMPTY = f'<meta name="{PROPERTY}" content="">'


def seal_html(text: str, where) -> str:
    """Insert (or fill) the marker ``<meta>`` in the ``<head>`` of ``text``."""
    if _META_EMPTY not in text:
        text = text.replace("<head>", "<head>\n" + _META_EMPTY, 1)
    token = seal(text.encode("utf-8"), where)
    return text.replace(_META_EMPTY, f'<meta name="{PROPERTY}" content="{token}">', 1)


class HtmlSealer:
    """Seal an HTML page while it is written (never read back): :meth:`write` its text in
    order — the marker ``<meta>`` goes in after ``<head>``, with a placeholder of the
    token's length — then :meth:`seal` puts the token in its place. The same token as
    :func:`seal_html` of the whole text."""

    _PLACEHOLDER = "0" * 64

    def __init__(self, fh, where):
        self.fh, self.where = fh, where       # fh: a binary file, seekable
        self._sha = hashlib.sha256()
        self._at: int | None = None
        self._pending = ""

    def write(self, text: str) -> None:
        if self._at is None:
            self._pending += text
            i = self._pending.find("<head>")
            if i < 0:
                if len(self._pending) > 1 << 20:
                    raise ValueError("no <head> in the page")
                return
            text, self._pending = self._pending, ""
            if _META_EMPTY not in text:
                text = text.replace("<head>", "<head>\n" + _META_EMPTY, 1)
            j = text.index(_META_EMPTY)
            blank = text.encode("utf-8")
            self._sha.update(blank)
            filled = text.replace(_META_EMPTY, f'<meta name="{PROPERTY}" content="{self._PLACEHOLDER}">', 1)
            self._at = self.fh.tell() + len(text[:j].encode("utf-8")) + len(f'<meta name="{PROPERTY}" content="')
            self.fh.write(filled.encode("utf-8"))
            return
        data = text.encode("utf-8")
        self._sha.update(data)
        self.fh.write(data)

    def seal(self) -> None:
        if self._at is None:
            raise ValueError("no <head> in the page")
        token = _seal_hashed([self._sha.digest()], self.where)
        end = self.fh.tell()
        self.fh.seek(self._at)
        self.fh.write(token.encode("ascii"))
        self.fh.seek(end)


def verify_html_file(path, limit: int = 64 * 2**20) -> bool:
    try:
        fd = _open_regular(path, limit, follow=True)
        if fd is None:
            return False
        try:
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read(limit + 1)
        finally:
            os.close(fd)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return verify_html(text, path)


def verify_html(text: str, where) -> bool:
    m = _META_RE.search(text)
    if not m:
        return False
    blank = text[:m.start()] + _META_EMPTY + text[m.end():]
    return verify(m.group(1), blank.encode("utf-8"), where)
