"""Python side of the ribbon tab 绩效自评 (called by ``RunPython`` from the add-in's VBA).

``RibbonMyAddin.RunMain`` runs ``import xlperf.addin.ribbon as xa; xa.ribbon_action('<tag>')``
with the active workbook as xlwings' caller. Each action works on an xlwings Book and
reports to the user through Excel itself (message boxes through xlwings, which are Unicode;
the status bar): errors become a Chinese message, never a Python traceback in a console. The
engine work is done by the modules the CLI uses — :func:`xlperf.recalc.run_on_book` and
:func:`xlperf.generate.roll_forward_file` — nothing is re-implemented here.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import logging
import tempfile
import traceback
from pathlib import Path

from ..errors import XlperfError

logger = logging.getLogger(__name__)

TITLE = "绩效自评"
ACTIONS = ("recalc", "check", "import", "help")
FINDINGS_SHEET = "检查结果"
LOG_NAME = "xlperf-addin.log"
_OPEN_FILTER = "Excel 工作簿 (*.xlsx;*.xlsm;*.xls),*.xlsx;*.xlsm;*.xls"
_SAVE_FILTER = "Excel 工作簿 (*.xlsx),*.xlsx"
#: 导入申报表 writes a portable 自评表: it is usually sent on to people without the add-in.
IMPORT_MODE = "portable"

#: What each button calls in the engine: action → (module, function, positional arguments
#: passed, keyword arguments passed). The calls below go through :func:`_engine_call`, which
#: uses exactly this shape, and the add-in's static check (:mod:`.check`) imports every
#: function listed here and binds the same shape to its signature, so a renamed module,
#: function or parameter is found before a user presses the button.
ENGINE_CALLS: dict[str, tuple[str, str, int, tuple[str, ...]] | None] = {
    "recalc": ("xlperf.recalc", "run_on_book", 2, ()),
    "check": ("xlperf.recalc", "run_on_book", 2, ()),
    "import": ("xlperf.generate", "roll_forward_file", 2, ("year", "mode", "force")),
    "help": None,                    # VBA shows the help text itself; Python only as a fallback
}
_WHAT = {"recalc": "重新计算", "check": "检查", "import": "导入申报表"}


# ------------------------------------------------------------------- plumbing

def _engine(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            raise XlperfError(f"此版本的 xlperf 没有{what}模块（{module}），请升级 xlperf。") from None
        raise


def _engine_function(module: str, name: str, what: str):
    function = getattr(_engine(module, what), name, None)
    if function is None:
        raise XlperfError(f"此版本的 xlperf 没有{what}功能（{module}.{name}），请升级 xlperf。")
    return function


def _engine_call(action: str, *args, **kwargs):
    """Call the engine function of ``action`` (see :data:`ENGINE_CALLS`) with exactly the
    declared shape of arguments."""
    module, name, positional, keywords = ENGINE_CALLS[action]
    if len(args) != positional or tuple(kwargs) != keywords:  # pragma: no cover - programming error
        raise AssertionError(f"{action}: call shape differs from ENGINE_CALLS")
    return _engine_function(module, name, _WHAT[action])(*args, **kwargs)


def _alert(app, message: str, *, mode: str = "info") -> None:
    app.alert(message, title=TITLE, mode=mode)


def _status(app, message) -> None:
    try:
        app.status_bar = message
    except Exception:  # noqa: BLE001 - the status bar is a courtesy
        logger.debug("status bar not set", exc_info=True)


def log_path() -> Path:
    return Path(tempfile.gettempdir()) / LOG_NAME


def _log_exception(action: str) -> Path:
    path = log_path()
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {_dt.datetime.now().isoformat(timespec='seconds')} {action}\n")
            f.write(traceback.format_exc())
    except OSError:  # pragma: no cover - nothing better to do
        pass
    return path


def _now() -> str:
    return _dt.datetime.now().strftime("%H:%M:%S")


# -------------------------------------------------------------------- actions

def recalc(book) -> list:
    """重新计算: the same recalc as ``xlperf recalc``, on this workbook."""
    findings = list(_engine_call("recalc", book, "recalc") or [])
    message = f"绩效自评：已重新计算（{_now()}）"
    if findings:
        message += f"，发现 {len(findings)} 个问题，点「检查」查看"
    _status(book.app, message)
    return findings


def check(book) -> list:
    """检查: write the findings sheet and select the first problem cell."""
    findings = list(_engine_call("check", book, "check") or [])
    app = book.app
    if not findings:
        _status(app, f"绩效自评：检查完成，未发现问题（{_now()}）")
        _alert(app, "检查完成：未发现问题。")
        return findings
    where = _select_first(book, findings)
    _status(app, f"绩效自评：检查完成，发现 {len(findings)} 个问题（{_now()}）")
    text = f"检查完成：发现 {len(findings)} 个问题，已写入「{FINDINGS_SHEET}」工作表。"
    if where:
        text += f"\n已选中第一个问题单元格：{where}。"
    _alert(app, text, mode="critical")
    return findings


def _select_first(book, findings) -> str | None:
    for finding in findings:
        sheet_name, cell = getattr(finding, "sheet", None), getattr(finding, "cell", None)
        if not sheet_name or not cell:
            continue
        try:
            sheet = book.sheets[sheet_name]
            sheet.activate()
            sheet.range(cell).select()
        except Exception:  # noqa: BLE001 - a finding may point at a sheet the user deleted
            logger.debug("cannot select %s!%s", sheet_name, cell, exc_info=True)
            continue
        return f"{sheet_name}!{cell}"
    return None


def default_output(declaration: Path) -> Path:
    """Where the self-evaluation goes by default: same folder, 申报表 → 自评表 in the name."""
    stem = declaration.stem
    stem = stem.replace("申报表", "自评表") if "申报表" in stem else f"{stem}-自评表"
    return declaration.with_name(stem + ".xlsx")


def _ask_open(app) -> str | None:
    chosen = app.api.GetOpenFilename(_OPEN_FILTER, 1, "选择绩效目标申报表")
    return chosen if isinstance(chosen, str) and chosen else None


def _ask_save(app, suggestion: Path) -> str | None:
    chosen = app.api.GetSaveAsFilename(str(suggestion), _SAVE_FILTER, 1, "保存绩效自评表")
    return chosen if isinstance(chosen, str) and chosen else None


def _ask_year(app) -> int | None:
    """Excel's own number box (Application.InputBox, Type 1): a year, or None if cancelled."""
    answer = app.api.InputBox("申报表标题中没有年份。请输入要生成的自评表的年度（如 2024）：", TITLE,
                              _dt.date.today().year, Type=1)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != int(answer) \
            or not 1990 <= answer <= 2100:
        return None
    return int(answer)


def import_declaration(book, *, ask_open=_ask_open, ask_save=_ask_save, ask_year=_ask_year) -> Path | None:
    """导入申报表: roll one declaration forward into a new 自评表 and open it."""
    app = book.app
    source = ask_open(app)
    if not source:
        _status(app, "绩效自评：已取消导入")
        return None
    source_path = Path(source)
    target = ask_save(app, default_output(source_path))
    if not target:
        _status(app, "绩效自评：已取消导入")
        return None
    target_path = Path(target)
    if target_path.suffix.lower() != ".xlsx":
        target_path = target_path.with_suffix(".xlsx")
    if target_path.resolve() == source_path.resolve():
        raise XlperfError("自评表不能保存在申报表原文件上，请换一个文件名。")
    overwrite = target_path.exists()
    if overwrite:
        answer = app.alert(f"文件「{target_path.name}」已存在，要覆盖吗？（原文件会保留为 .bak 备份）",
                           title=TITLE, buttons="yes_no")
        if answer != "yes":
            _status(app, "绩效自评：已取消导入")
            return None
    try:
        written = _engine_call("import", source_path, target_path, year=None, mode=IMPORT_MODE, force=overwrite)
    except XlperfError as exc:
        if not getattr(exc, "needs_year", False):
            raise
        year = ask_year(app)
        if year is None:
            _status(app, "绩效自评：已取消导入（未输入年度）")
            return None
        written = _engine_call("import", source_path, target_path, year=year, mode=IMPORT_MODE, force=overwrite)
    written = Path(written) if written else target_path
    app.books.open(str(written))
    _status(app, f"绩效自评：已由「{source_path.name}」生成「{written.name}」（{_now()}）")
    return written


def show_help(book) -> None:
    from .vba import asset_text
    _alert(book.app, asset_text("help.txt").strip())


_HANDLERS = {"recalc": recalc, "check": check, "import": import_declaration, "help": show_help}
assert tuple(_HANDLERS) == ACTIONS == tuple(ENGINE_CALLS)


def ribbon_action(action: str, book=None):
    """Run one ribbon action on the calling workbook; report every failure in Excel."""
    if book is None:
        import xlwings as xw
        book = xw.Book.caller()
    app = book.app
    handler = _HANDLERS.get(action)
    if handler is None:
        _alert(app, f"未知的按钮动作「{action}」。请用 xlperf addin install 重新安装加载项。", mode="critical")
        return None
    try:
        return handler(book)
    except XlperfError as exc:
        _status(app, False)
        _alert(app, str(exc), mode="critical")
    except Exception as exc:  # noqa: BLE001 - show a message box, not a traceback
        _status(app, False)
        path = _log_exception(action)
        _alert(app, f"内部错误（{type(exc).__name__}）：{exc}\n\n详细信息已写入 {path}", mode="critical")
    return None


#: Declared for the add-in's static check: the tags ``ribbon_action`` understands, and what
#: each calls in the engine.
ribbon_action.accepted_actions = frozenset(ACTIONS)
ribbon_action.engine_calls = ENGINE_CALLS


def template_main() -> None:
    """What a button of a template-stage add-in would run (``import xlperf; xlperf.main()``
    in the xlwings template's RunMain) if someone enabled it: explain instead of failing."""
    import xlwings as xw
    book = xw.Book.caller()
    _alert(book.app, "此加载项尚未完成（缺少按钮宏和 Excel 函数）。请维护人员在 Windows 上运行一次 "
                     "xlperf addin finish，再用 xlperf addin install 安装。", mode="critical")
