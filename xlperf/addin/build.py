"""Build ``xlperf.xlam`` from the custom-add-in template of the pinned xlwings.

Reproducible: the same template, assets and settings give the same bytes (fixed zip dates,
order and compression). Starting point is ``xlwings/quickstart_addin_ribbon.xlam`` of
xlwings :data:`XLWINGS_VERSION` (checked by SHA-256), i.e. what
``xlwings quickstart NAME --addin --ribbon`` copies. The build changes, with zipfile/lxml:

* the ribbon: ``customUI/customUI14.xml`` (Office 2010+ namespace) from ``assets/ribbon.xml``
  with the relationship type of that namespace (the template pairs the 2006 namespace with the
  2007 relationship type; the template's part is dropped);
* the configuration sheet ``myaddin.conf`` (activated: the template ships it as
  ``_myaddin.conf``): UDF module ``xlperf.udfs``, workbook folder kept off ``sys.path``, and at
  install time the interpreter of the current environment;
* the document properties (name and description shown in Excel's add-in list, build stage).

The VBA project is taken as it is. VBA cannot be compiled here, so until a finished VBA
project exists (``xlperf addin finish`` on Windows, once, see :mod:`.install`), the add-in
carries the template's VBA and its buttons are disabled; the two modules to add are written
next to it as ``.bas`` text. When ``xlperf/assets/vbaProject.bin`` with a matching
``vbaProject.json`` exists, the build uses it instead and enables the buttons.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lxml import etree

from ..errors import XlperfError
from . import vba

XLWINGS_VERSION = "0.37.8"
TEMPLATE_NAME = "quickstart_addin_ribbon.xlam"
TEMPLATE_SHA256 = "43010e1abd6e7a48b4693367f062196654a21c256683dccbaec810df7a6f4dbb"
ADDIN_NAME = vba.ADDIN_NAME
PROJECT_NAME = "myaddin"            # the template's VBA constant PROJECT_NAME (compiled in)
CONF_SHEET = f"{PROJECT_NAME}.conf"

STAGE_TEMPLATE = "template"         # template VBA: buttons disabled, no Excel functions
STAGE_FINISHED = "finished"         # VBA with the ribbon dispatcher and the UDF wrappers

CUSTOMUI_PART = "customUI/customUI14.xml"
NS_CUSTOMUI_2006 = "http://schemas.microsoft.com/office/2006/01/customui"
NS_CUSTOMUI_2009 = "http://schemas.microsoft.com/office/2009/07/customui"
#: The relationship type Office expects for each customUI namespace.
UI_RELATIONSHIP = {
    NS_CUSTOMUI_2006: "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility",
    NS_CUSTOMUI_2009: "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility",
}
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
NS_CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
NS_DC = "http://purl.org/dc/elements/1.1/"
ADDIN_CONTENT_TYPE = "application/vnd.ms-excel.addin.macroEnabled.main+xml"

TITLE = "xlperf 绩效自评"
DESCRIPTION = ("财政项目支出绩效自评表：重新计算、检查、导入申报表；单元格函数 XLPERF_RATE、XLPERF_FUNDS_SCORE、"
               "XLPERF_SCORE、XLPERF_GRADE、XLPERF_PARSE。")
DISABLED_NOTE = "（此加载项尚未完成：维护人员需在 Windows 上运行一次 xlperf addin finish，按钮才可使用。）"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class AddinError(XlperfError):
    """The add-in cannot be built, installed or checked (message in Chinese)."""


# -------------------------------------------------------------------- settings

#: The keys of the configuration sheet, in order (the VBA reads A1 down to the first blank).
#: Every key the template's VBA asks GetConfig for is present, so no lookup falls through to
#: config files beside the workbook or in %USERPROFILE% (their paths go through VBA's ANSI
#: Environ/Open, a weak spot with Chinese user names).
CONF_KEYS = ("Interpreter_Win", "Interpreter_Mac", "PYTHONPATH", "Conda Path", "Conda Env",
             "UDF Modules", "Debug UDFs", "Use UDF Server", "Show Console",
             "ADD_WORKBOOK_TO_PYTHONPATH", "ONEDRIVE_CONSUMER_WIN", "ONEDRIVE_COMMERCIAL_WIN",
             "SHAREPOINT_WIN", "LICENSE_KEY", "TEMP DIR", "SHOW_ERROR_POPUPS")


def default_settings() -> dict[str, object]:
    """Settings of a freshly built add-in (``install`` adds the interpreter)."""
    return {
        "Interpreter_Win": "",          # empty: the VBA falls back to "python" on PATH
        "Interpreter_Mac": "",
        "PYTHONPATH": "",
        "Conda Path": "",
        "Conda Env": "",
        "UDF Modules": vba.UDF_PYTHON_MODULE,
        "Debug UDFs": False,
        "Use UDF Server": False,
        "Show Console": False,
        # xlperf is an installed package: Python ignores the workbook and add-in paths xlwings
        # puts on its command line (which may hold D:\绩效\2024, or "?" after an ANSI conversion).
        "ADD_WORKBOOK_TO_PYTHONPATH": "false",
        "ONEDRIVE_CONSUMER_WIN": "",
        "ONEDRIVE_COMMERCIAL_WIN": "",
        "SHAREPOINT_WIN": "",
        "LICENSE_KEY": "",
        "TEMP DIR": "%TEMP%",           # expanded by WScript (Unicode); install may pin a short path
        "SHOW_ERROR_POPUPS": "True",
    }


# ------------------------------------------------------------------ template

def template_path() -> Path:
    import xlwings
    return Path(xlwings.__file__).parent / TEMPLATE_NAME


def template_bytes() -> bytes:
    """The pinned template, after checking the xlwings version and the file's SHA-256."""
    import xlwings
    if xlwings.__version__ != XLWINGS_VERSION:
        raise AddinError(
            f"加载项基于 xlwings {XLWINGS_VERSION} 的模板生成，当前安装的是 xlwings {xlwings.__version__}。"
            f"请运行 pip install xlwings=={XLWINGS_VERSION}（加载项中的 VBA 与 Python 端的 xlwings 版本必须一致）。")
    path = template_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AddinError(f"找不到 xlwings 的加载项模板 {path}：{exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != TEMPLATE_SHA256:
        raise AddinError(f"xlwings 模板 {path} 的校验值 {digest} 与预期的 {TEMPLATE_SHA256} 不符，"
                         f"请重新安装 xlwings=={XLWINGS_VERSION}。")
    return data


# -------------------------------------------------------------- finished VBA

@dataclass(frozen=True)
class VbaProject:
    data: bytes
    stage: str
    note: str = ""


def finished_vba_paths(directory: Path | None = None) -> tuple[Path, Path]:
    base = directory or Path(str(resources.files("xlperf").joinpath("assets")))
    return base / "vbaProject.bin", base / "vbaProject.json"


def choose_vba(template: bytes, module_texts: dict[str, str], directory: Path | None = None) -> VbaProject:
    """The finished VBA project if one exists for exactly these module texts and this xlwings,
    otherwise the template's (stage ``template``) with the reason."""
    with zipfile.ZipFile(io.BytesIO(template)) as z:
        template_vba = z.read("xl/vbaProject.bin")
    bin_path, manifest_path = finished_vba_paths(directory)
    if not bin_path.is_file():
        return VbaProject(template_vba, STAGE_TEMPLATE, "尚无完成版 VBA（xlperf/assets/vbaProject.bin）")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return VbaProject(template_vba, STAGE_TEMPLATE, f"完成版 VBA 的说明文件无法读取：{exc}")
    data = bin_path.read_bytes()
    expected = vba.sources_digest(module_texts, XLWINGS_VERSION)
    if manifest.get("sources_sha256") != expected:
        return VbaProject(template_vba, STAGE_TEMPLATE,
                          "完成版 VBA 是用旧的 VBA 源码或其他 xlwings 版本生成的，需要重新运行 xlperf addin finish")
    if manifest.get("bin_sha256") != hashlib.sha256(data).hexdigest():
        return VbaProject(template_vba, STAGE_TEMPLATE, "完成版 VBA 文件与说明文件中的校验值不符")
    return VbaProject(data, STAGE_FINISHED, "使用完成版 VBA（xlperf/assets/vbaProject.bin）")


# ---------------------------------------------------------------- XML parts

def _xml(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(data, parser)


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'


def _dump(root: etree._Element) -> bytes:
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def ribbon_xml(enabled: bool) -> bytes:
    """``customUI14.xml`` from ``assets/ribbon.xml``; disabled buttons say why."""
    root = _xml(vba.asset_text("ribbon.xml").encode("utf-8"))
    etree.strip_tags(root, etree.Comment)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tail is not None and not el.tail.strip():
            el.tail = None
        if isinstance(el.tag, str) and el.text is not None and not el.text.strip():
            el.text = None
    if not enabled:
        for button in root.iter(f"{{{NS_CUSTOMUI_2009}}}button"):
            button.set("enabled", "false")
            button.set("supertip", button.get("supertip", "") + DISABLED_NOTE)
    etree.indent(root, space="  ")
    return _dump(root)


def conf_sheet_xml(settings: dict[str, object]) -> bytes:
    """The ``myaddin.conf`` worksheet: key in column A, value in column B (inline strings,
    booleans as Excel booleans). Keeps the template's code name ``Sheet2`` (its VBA module)."""
    unknown = set(settings) - set(CONF_KEYS)
    if unknown:
        raise AddinError(f"未知的加载项设置：{'、'.join(sorted(unknown))}")
    ws = etree.Element(f"{{{NS_MAIN}}}worksheet", nsmap={None: NS_MAIN, "r": NS_R})
    etree.SubElement(ws, f"{{{NS_MAIN}}}sheetPr", codeName="Sheet2")
    etree.SubElement(ws, f"{{{NS_MAIN}}}dimension", ref=f"A1:B{len(CONF_KEYS)}")
    views = etree.SubElement(ws, f"{{{NS_MAIN}}}sheetViews")
    etree.SubElement(views, f"{{{NS_MAIN}}}sheetView", tabSelected="1", workbookViewId="0")
    etree.SubElement(ws, f"{{{NS_MAIN}}}sheetFormatPr", defaultRowHeight="15.75")
    cols = etree.SubElement(ws, f"{{{NS_MAIN}}}cols")
    etree.SubElement(cols, f"{{{NS_MAIN}}}col", min="1", max="1", width="30", customWidth="1")
    etree.SubElement(cols, f"{{{NS_MAIN}}}col", min="2", max="2", width="90", customWidth="1")
    data = etree.SubElement(ws, f"{{{NS_MAIN}}}sheetData")
    merged = {**default_settings(), **settings}
    for row, key in enumerate(CONF_KEYS, start=1):
        r = etree.SubElement(data, f"{{{NS_MAIN}}}row", r=str(row))
        _inline(r, f"A{row}", key)
        value = merged[key]
        if isinstance(value, bool):
            c = etree.SubElement(r, f"{{{NS_MAIN}}}c", r=f"B{row}", t="b")
            etree.SubElement(c, f"{{{NS_MAIN}}}v").text = "1" if value else "0"
        elif value not in (None, ""):
            _inline(r, f"B{row}", str(value))
    etree.SubElement(ws, f"{{{NS_MAIN}}}pageMargins", left="0.7", right="0.7", top="0.75",
                     bottom="0.75", header="0.3", footer="0.3")
    return _dump(ws)


def _inline(row, ref: str, text: str) -> None:
    c = etree.SubElement(row, f"{{{NS_MAIN}}}c", r=ref, t="inlineStr")
    is_ = etree.SubElement(c, f"{{{NS_MAIN}}}is")
    t = etree.SubElement(is_, f"{{{NS_MAIN}}}t")
    t.text = text
    if text != text.strip():
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")


def read_conf_sheet(xlam: bytes) -> dict[str, object]:
    """Key → value of the add-in's configuration sheet (as the VBA would see it)."""
    with zipfile.ZipFile(io.BytesIO(xlam)) as z:
        path = _conf_sheet_part(z)
        root = _xml(z.read(path))
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            sst = _xml(z.read("xl/sharedStrings.xml"))
            shared = ["".join(si.itertext()) for si in sst.iter(f"{{{NS_MAIN}}}si")]
    cells: dict[str, object] = {}
    for c in root.iter(f"{{{NS_MAIN}}}c"):
        t, v = c.get("t"), c.find(f"{{{NS_MAIN}}}v")
        if t == "inlineStr":
            value: object = "".join(c.find(f"{{{NS_MAIN}}}is").itertext())
        elif t == "s":
            value = shared[int(v.text)]
        elif t == "b":
            value = v.text == "1"
        else:
            value = v.text if v is not None else None
        cells[c.get("r")] = value
    out: dict[str, object] = {}
    row = 1
    while cells.get(f"A{row}") not in (None, ""):
        out[str(cells[f"A{row}"])] = cells.get(f"B{row}", "")
        row += 1
    return out


def _conf_sheet_part(z: zipfile.ZipFile) -> str:
    wb = _xml(z.read("xl/workbook.xml"))
    rels = _xml(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    for sheet in wb.iter(f"{{{NS_MAIN}}}sheet"):
        if sheet.get("name") in (CONF_SHEET, "_" + CONF_SHEET):
            return "xl/" + targets[sheet.get(f"{{{NS_R}}}id")].lstrip("/").removeprefix("xl/")
    raise AddinError(f"加载项中没有配置工作表 {CONF_SHEET}：这不是 xlperf 生成的加载项。")


def _workbook_xml(data: bytes) -> bytes:
    root = _xml(data)
    for sheet in root.iter(f"{{{NS_MAIN}}}sheet"):
        if sheet.get("name") == "_" + CONF_SHEET:
            sheet.set("name", CONF_SHEET)
    # The template records the folder it was saved in on its author's machine: drop it.
    for alt in list(root.iter(f"{{{NS_MC}}}AlternateContent")):
        alt.getparent().remove(alt)
    return _dump(root)


def _core_xml(data: bytes, stage: str) -> bytes:
    root = _xml(data)
    values = {f"{{{NS_DC}}}title": TITLE, f"{{{NS_DC}}}creator": "xlperf",
              f"{{{NS_CORE}}}lastModifiedBy": "xlperf addin build",
              f"{{{NS_DC}}}description": DESCRIPTION,
              f"{{{NS_CORE}}}keywords": stage_keywords(stage)}
    for tag, text in values.items():
        el = root.find(tag)
        if el is None:
            el = etree.SubElement(root, tag)
        el.text = text
    return _dump(root)


def stage_keywords(stage: str) -> str:
    return f"xlperf-vba={stage}; xlwings={XLWINGS_VERSION}"


def read_stage(xlam: bytes) -> str | None:
    """The build stage recorded in the add-in's document properties."""
    with zipfile.ZipFile(io.BytesIO(xlam)) as z:
        root = _xml(z.read("docProps/core.xml"))
    keywords = root.findtext(f"{{{NS_CORE}}}keywords") or ""
    for item in keywords.split(";"):
        key, _, value = item.strip().partition("=")
        if key == "xlperf-vba":
            return value
    return None


def _root_rels(data: bytes) -> bytes:
    root = _xml(data)
    for rel in list(root):
        if rel.get("Type", "").endswith("/ui/extensibility"):
            root.remove(rel)
    etree.SubElement(root, f"{{{NS_PKG_REL}}}Relationship", Id="xlperfRibbon",
                     Type=UI_RELATIONSHIP[NS_CUSTOMUI_2009], Target=CUSTOMUI_PART)
    return _dump(root)


# --------------------------------------------------------------------- build

@dataclass
class BuildResult:
    path: Path
    stage: str
    sha256: str
    note: str
    sidecar: dict[str, Path] = field(default_factory=dict)
    manifest: Path | None = None


def build_bytes(settings: dict[str, object] | None = None, *, vba_directory: Path | None = None,
                vba_project: VbaProject | None = None) -> tuple[bytes, VbaProject]:
    """The add-in as bytes, and the VBA project it carries."""
    template = template_bytes()
    project = vba_project or choose_vba(template, vba.modules(), vba_directory)
    enabled = project.stage == STAGE_FINISHED
    replaced = {
        "[Content_Types].xml": None,  # kept, but written first
        "_rels/.rels": _root_rels,
        "xl/workbook.xml": _workbook_xml,
        "docProps/core.xml": lambda d: _core_xml(d, project.stage),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        conf_part = _conf_sheet_part(src)
        names = ["[Content_Types].xml"] + [n for n in src.namelist() if n != "[Content_Types].xml"]
        for name in names:
            if name == "customUI/customUI.xml":
                continue  # replaced by customUI14.xml (Office 2010+ schema)
            data = src.read(name)
            if name == "xl/vbaProject.bin":
                data = project.data
            elif name == conf_part:
                data = conf_sheet_xml(settings or {})
            elif replaced.get(name):
                data = replaced[name](data)
            _write(dst, name, data)
        _write(dst, CUSTOMUI_PART, ribbon_xml(enabled))
    return out.getvalue(), project


def _write(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    z.writestr(info, data, compresslevel=9)


def replace_settings(xlam: bytes, settings: dict[str, object]) -> bytes:
    """A copy of an xlperf add-in (built here or finished on Windows) with new settings in
    its configuration sheet; every other part is copied unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlam)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        conf_part = _conf_sheet_part(src)
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == conf_part:
                data = conf_sheet_xml(settings)
            elif info.filename == "xl/workbook.xml":
                data = _workbook_xml(data)
            _write(dst, info.filename, data)
    return out.getvalue()


def build(out_dir: Path, settings: dict[str, object] | None = None, *,
          vba_directory: Path | None = None) -> BuildResult:
    """Write ``xlperf.xlam``, the VBA modules still to be added (``xlperf-vba/*.bas``) and
    ``xlperf-build.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    data, project = build_bytes(settings, vba_directory=vba_directory)  # refuses another xlwings first
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ADDIN_NAME
    target.write_bytes(data)
    sidecar_dir = out_dir / "xlperf-vba"
    sidecar_dir.mkdir(exist_ok=True)
    sidecar = {}
    module_texts = vba.modules()
    for name, text in module_texts.items():
        path = sidecar_dir / f"{name}.bas"
        # CRLF and ASCII: what the VBA editor's File > Import expects.
        path.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii"))
        sidecar[name] = path
    digest = hashlib.sha256(data).hexdigest()
    manifest = out_dir / "xlperf-build.json"
    manifest.write_text(json.dumps({
        "addin": ADDIN_NAME,
        "sha256": digest,
        "stage": project.stage,
        "note": project.note,
        "xlwings": XLWINGS_VERSION,
        "template": TEMPLATE_NAME,
        "template_sha256": TEMPLATE_SHA256,
        "vba_sources_sha256": vba.sources_digest(module_texts, XLWINGS_VERSION),
        "vba_modules": sorted(module_texts),
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return BuildResult(target, project.stage, digest, project.note, sidecar, manifest)
