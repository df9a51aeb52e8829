"""Headless LibreOffice Calc as the reference spreadsheet engine.

LibreOffice keeps the cached formula values of an .xlsx on load unless its user
profile says "always recalculate". Every call here therefore starts soffice with
a fresh, throw-away user profile that sets OOXMLRecalcMode and ODFRecalcMode to
0 (always), so the results are LibreOffice's own. Separate profiles also let
several calls run in parallel.

Inputs are never touched: they are copied into a private staging directory,
converted there, and only the results are moved to ``outdir``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "APT_PACKAGES",
    "LibreOfficeError",
    "LibreOfficeMissing",
    "find_soffice",
    "pdf_to_png",
    "read_values",
    "recalculate",
    "to_pdf",
]

APT_PACKAGES = "libreoffice-calc fonts-noto-cjk poppler-utils"
_INSTALL_HINT = f"apt-get install -y --no-install-recommends {APT_PACKAGES}"

XLSX_FILTER = "xlsx:Calc MS Excel 2007 XML"
PDF_FILTER = "pdf:calc_pdf_Export"
DEFAULT_TIMEOUT = 300.0

_RECALC_XCU = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class LibreOfficeMissing(RuntimeError):
    """LibreOffice (or a helper tool such as pdftoppm) is not installed."""


class LibreOfficeError(RuntimeError):
    """A LibreOffice or pdftoppm run failed, timed out or produced no output."""


def find_soffice() -> str:
    """Return the path of the soffice executable.

    ``$XLPERF_SOFFICE`` (a path or a command name) overrides the search of
    ``soffice`` and ``libreoffice`` on ``$PATH``.
    """
    override = os.environ.get("XLPERF_SOFFICE")
    if override:
        found = shutil.which(override)
        if found is None:
            raise LibreOfficeMissing(
                f"XLPERF_SOFFICE={override!r} is not an executable file"
            )
        return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise LibreOfficeMissing(
        "LibreOffice not found: no 'soffice' or 'libreoffice' on PATH "
        f"(set XLPERF_SOFFICE to override). Install it with: {_INSTALL_HINT}"
    )


def recalculate(
    paths: Iterable[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Open each workbook in LibreOffice, recalculate every formula, save as .xlsx.

    All files go through a single soffice process. Returns the output paths
    (``outdir/<stem>.xlsx``) in input order; read them with :func:`read_values`.
    """
    return _convert(paths, outdir, XLSX_FILTER, ".xlsx", timeout)


def to_pdf(
    paths: Iterable[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Print each workbook (recalculated) to ``outdir/<stem>.pdf`` in one soffice call."""
    return _convert(paths, outdir, PDF_FILTER, ".pdf", timeout)


def pdf_to_png(
    pdf: str | os.PathLike[str],
    outprefix: str | os.PathLike[str],
    dpi: int = 100,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Render each page of ``pdf`` to ``<outprefix>-<page>.png``; return them in page order.

    Page numbers are zero-padded as pdftoppm does (``-1``, or ``-01`` for 10+ pages).
    """
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise LibreOfficeMissing(
            f"pdftoppm not found on PATH. Install it with: {_INSTALL_HINT}"
        )
    pdf = Path(pdf)
    if not pdf.is_file():
        raise FileNotFoundError(pdf)
    outprefix = Path(outprefix)
    outprefix.parent.mkdir(parents=True, exist_ok=True)
    # Render into a private directory so stale pages from an earlier run with
    # the same prefix are never mistaken for new ones.
    with tempfile.TemporaryDirectory(dir=outprefix.parent, prefix=".pdftoppm-") as tmp:
        _run([pdftoppm, "-r", str(dpi), "-png", str(pdf), f"{tmp}/page"], timeout)
        pages = sorted(
            Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1])
        )
        if not pages:
            raise LibreOfficeError(f"pdftoppm produced no pages for {pdf}")
        return [
            Path(shutil.move(p, f"{outprefix}-{p.stem.split('-')[1]}.png"))
            for p in pages
        ]


def read_values(
    xlsx: str | os.PathLike[str], sheet: str | None = None
) -> dict[str, object]:
    """Map "A1"-style coordinates to cached cell values (empty cells omitted).

    Reads ``sheet`` (default: the active sheet) with openpyxl in read-only,
    data-only mode, i.e. the values last computed by the saving application.
    LibreOffice writes these with 15 significant digits, so 0.1+0.2 reads back
    as 0.3 although LibreOffice computed 0.30000000000000004.
    """
    import openpyxl  # deferred: only needed by tests and checks

    wb = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if sheet is not None else wb.active
        return {
            cell.coordinate: cell.value
            for row in ws.iter_rows()
            for cell in row
            if cell.value is not None
        }
    finally:
        wb.close()


def _convert(
    paths: Iterable[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    filter_spec: str,
    suffix: str,
    timeout: float,
) -> list[Path]:
    """Convert ``paths`` with one soffice call; see :func:`recalculate`."""
    sources = [Path(p) for p in paths]
    if not sources:
        return []
    for src in sources:
        if not src.is_file():
            raise FileNotFoundError(src)
    stems = [src.stem for src in sources]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f"input file names must have distinct stems: {duplicates}")
    outdir = Path(outdir)
    resolved = {src.resolve() for src in sources}
    clobbered = [
        str(src) for src in sources if (outdir / (src.stem + suffix)).resolve() in resolved
    ]
    if clobbered:
        raise ValueError(f"output would overwrite an input file: {clobbered}")
    outdir.mkdir(parents=True, exist_ok=True)
    soffice = find_soffice()

    with tempfile.TemporaryDirectory(prefix="xlperf-lo-") as tmp:
        tmp = Path(tmp)
        profile, indir, staged_out = tmp / "profile", tmp / "in", tmp / "out"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(
            _RECALC_XCU, encoding="utf-8"
        )
        indir.mkdir()
        staged_in = []
        for src in sources:
            staged_in.append(indir / src.name)
            shutil.copyfile(src, staged_in[-1])

        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            filter_spec,
            "--outdir",
            str(staged_out),
            *map(str, staged_in),
        ]
        proc = _run(cmd, timeout)
        results = []
        for src in sources:
            produced = staged_out / (src.stem + suffix)
            if not produced.is_file():
                raise LibreOfficeError(
                    f"LibreOffice produced no output for {src}\n"
                    f"stderr:\n{proc.stderr.strip()}\nstdout:\n{proc.stdout.strip()}"
                )
            results.append(produced)
        # Move only after every output exists, so a failed batch leaves outdir alone.
        return [Path(shutil.move(p, outdir / p.name)) for p in results]


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own process group; kill the whole group on timeout."""
    # soffice is a shell script that starts oosplash and soffice.bin: killing
    # only the direct child would leave soffice.bin running.
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
        raise LibreOfficeError(
            f"timed out after {timeout} s: {cmd[0]}\nstderr:\n{stderr.strip()}"
        ) from None
    if proc.returncode != 0:
        raise LibreOfficeError(
            f"{Path(cmd[0]).name} exited with status {proc.returncode}\n"
            f"stderr:\n{stderr.strip()}\nstdout:\n{stdout.strip()}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


# ---------------------------------------------------------------- pictures

_FONTS_CONF = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><include ignore_missing="yes">/etc/fonts/fonts.conf</include>
<alias binding="same"><family>宋体</family><prefer><family>Noto Serif CJK SC</family></prefer></alias>
<alias binding="same"><family>SimSun</family><prefer><family>Noto Serif CJK SC</family></prefer></alias>
<alias binding="same"><family>仿宋</family><prefer><family>Noto Serif CJK SC</family></prefer></alias>
</fontconfig>
"""


def render_png(paths, outdir, dpi: int = 80) -> list[Path]:
    """Print workbooks to PDF and PNG pages, with 宋体 rendered as Noto Serif CJK SC
    (the templates name 宋体; Linux has no such font)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "fonts.conf"
        conf.write_text(_FONTS_CONF, encoding="utf-8")
        old = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = str(conf)
        try:
            pdfs = to_pdf(paths, outdir)
        finally:
            if old is None:
                os.environ.pop("FONTCONFIG_FILE", None)
            else:
                os.environ["FONTCONFIG_FILE"] = old
    pngs = []
    for pdf in pdfs:
        pngs += pdf_to_png(pdf, outdir / pdf.stem, dpi)
    return pngs


def register_cli(sub) -> None:
    p = sub.add_parser("render", help="用 LibreOffice 将工作簿打印为 PDF 和 PNG 图片（预览打印效果）",
                       description="按工作簿自身的打印设置（纸张、页眉页脚、打印区域）用 LibreOffice 打印成 PDF，"
                                   "再把每一页转成 PNG 图片，写入输出文件夹；不改动工作簿。")
    p.add_argument("files", nargs="+", type=Path, metavar="工作簿", help="要预览的 .xlsx 文件（可多个）")
    p.add_argument("--out", type=Path, required=True, metavar="文件夹", help="输出文件夹（PDF 和每页一张 PNG）")
    p.add_argument("--dpi", type=int, default=80, help="PNG 图片的分辨率（每英寸点数，默认 80）")

    def run(args) -> int:
        for png in render_png(args.files, args.out, args.dpi):
            print(f"已写出 {png}")
        return 0

    p.set_defaults(func=run)
