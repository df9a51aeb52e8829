"""Install, uninstall and inspect ``xlperf.xlam`` on Windows; finish its VBA project once.

``install`` copies the add-in into the user's Excel start-up folder
(``%APPDATA%\\Microsoft\\Excel\\XLSTART``, a trusted location by default: Excel opens it at
every start without a macro prompt) and writes the xlwings settings into the add-in's own
configuration sheet ``myaddin.conf``: the interpreter of the current Python environment
(or its conda settings) and the UDF module ``xlperf.udfs``. Settings in the sheet are read by
the VBA as Unicode cell values, unlike the ``%USERPROFILE%\\.myaddin\\myaddin.conf`` file, which
the VBA reads through ANSI file I/O.

Chinese paths (user 张三, workbooks in ``D:\\绩效\\2024``). The template's VBA hands strings to
Python in two ways:

* ``RunPython`` (the ribbon buttons) builds a ``cmd.exe /C … python -B -c "…"`` command line and
  starts it with ``WScript.Shell.Run``, a COM call that takes Unicode: the workbook's name
  (``--wb="自评表.xlsx"``) and full path (inside ``prepare_sys_path("…")``, backslashes doubled,
  ``&`` escaped as ``^&``) reach Python intact. The Python command itself sits inside cmd.exe's
  double quotes; :mod:`.check` makes sure it contains no ``"`` or ``%``.
* The UDF server is started by ``xlwings64-<ver>.dll`` through ``Declare`` calls, and VBA converts
  a ``Declare``'s String arguments to the system ANSI code page: the interpreter path and the
  workbook and add-in paths of that command line, and ``LoadLibraryA`` of the DLL. The error
  log of RunPython is read back with ANSI file I/O (``Open``) from the temp folder.

Characters the code page cannot represent (any Chinese character on an English Windows; rare
ones on a Chinese Windows) turn into ``?`` there. ``install`` therefore writes the interpreter
(or conda) path and the temp folder in a form that survives the conversion: the long path when
the ANSI code page can encode it, otherwise its 8.3 short name (ASCII), and says so plainly when
neither works. The workbook and add-in paths on the command line cannot be chosen (the add-in
lives in ``%APPDATA%``, which holds the user name); ``ADD_WORKBOOK_TO_PYTHONPATH = false`` makes
Python ignore them (xlperf is an installed package: nothing is imported from the workbook's
folder), so a ``?`` in them does no harm. All settings are in the add-in's own sheet, read as
Unicode cell values.

UDFs in an add-in need VBA wrapper functions in its VBA project, and putting them there
programmatically needs Excel's "Trust access to the VBA project object model". That is why
``finish`` exists: run once by a maintainer (or done by hand in the VBA editor, which needs
no such setting), it yields ``xlperf/assets/vbaProject.bin``; every later build carries it and
end users install with no security setting changed.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from . import build as B
from . import vba

NOT_WINDOWS = ("xlperf addin {command} 只能在 Windows 上运行：Excel 加载项（VBA、xlwings 的 Excel 函数）只支持 "
               "Windows 版 Excel，当前系统是 {platform}。macOS、Linux 和 WPS 用户请使用 portable 版本的工作簿"
               "（只用 Excel 自带公式），见 docs/addin.md。")
VBOM_MESSAGE = (
    "Excel 拒绝了程序对 VBA 工程的访问（Excel 的安全设置）。xlperf addin finish 只需在一台电脑上做一次，任选其一：\n"
    "1. 文件 → 选项 → 信任中心 → 信任中心设置 → 宏设置，勾选「信任对 VBA 工程对象模型的访问」，关闭 Excel，"
    "重新运行 xlperf addin finish，完成后再取消勾选；\n"
    "2. 不改设置，在 VBA 编辑器中手动导入两个模块后运行 xlperf addin finish --saved 文件，见 "
    "docs/windows-checklist.md 的「手动完成加载项」。\n"
    "最终用户安装完成版加载项时不需要这项设置。")


@dataclass
class Machine:
    """What install/status need to know about this computer (injectable for tests)."""
    platform: str = sys.platform
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    executable: str = sys.executable
    prefix: str = sys.prefix
    ansi_encoding: str | None = None               # e.g. "cp936"; None: ask Windows
    short_path: Callable[[str], str | None] | None = None

    @property
    def is_windows(self) -> bool:
        return self.platform.startswith("win")

    def encoding(self) -> str:
        if self.ansi_encoding:
            return self.ansi_encoding
        if self.is_windows:  # pragma: no cover - Windows
            import ctypes
            return f"cp{ctypes.windll.kernel32.GetACP()}"
        return "utf-8"

    def short(self, path: str) -> str | None:
        if self.short_path is not None:
            return self.short_path(path)
        return _short_path_windows(path) if self.is_windows else None


def _short_path_windows(path: str) -> str | None:  # pragma: no cover - Windows
    import ctypes
    from ctypes import wintypes
    get = ctypes.windll.kernel32.GetShortPathNameW
    get.argtypes = [wintypes.LPCWSTR, wintypes.LPWSTR, wintypes.DWORD]
    get.restype = wintypes.DWORD
    size = get(path, None, 0)
    if not size:
        return None
    buffer = ctypes.create_unicode_buffer(size)
    return buffer.value if get(path, buffer, size) else None


def require_windows(command: str, machine: Machine) -> None:
    if not machine.is_windows:
        raise B.AddinError(NOT_WINDOWS.format(command=command, platform=machine.platform))


def xlstart_dir(machine: Machine, override: Path | None = None) -> Path:
    """The user's Excel start-up folder (Excel 2007 and later, all versions)."""
    if override:
        return Path(override)
    appdata = machine.environ.get("APPDATA")
    if not appdata:
        raise B.AddinError("找不到环境变量 APPDATA，无法确定 Excel 的 XLSTART 文件夹；请用 --xlstart 指定。")
    return Path(appdata) / "Microsoft" / "Excel" / "XLSTART"


# ------------------------------------------------------------------- paths

@dataclass
class SafePath:
    value: str
    note: str | None = None
    warning: str | None = None


def ansi_safe(path: str, machine: Machine, what: str) -> SafePath:
    """A form of ``path`` that survives the VBA's conversion to the ANSI code page."""
    encoding = machine.encoding()
    try:
        path.encode(encoding)
        return SafePath(path)
    except UnicodeEncodeError:
        pass
    short = machine.short(path)
    if short and short.isascii():
        return SafePath(short, note=f"{what}路径含系统代码页（{encoding}）无法表示的字符，已改用 8.3 短路径 {short}")
    return SafePath(path, warning=(
        f"{what}路径「{path}」含系统代码页（{encoding}）无法表示的字符，且该磁盘没有 8.3 短文件名："
        f"Excel 函数（UDF）将无法启动 Python。最省事的办法：把 Python 装到纯英文路径（如 C:\\xlperf\\python），"
        f"在那个环境中 pip install xlperf 后重新运行 xlperf addin install。"))


def conda_settings(machine: Machine) -> tuple[str, str] | None:
    """(Conda Path, Conda Env) when this Python is a conda environment, as xlwings does."""
    env, exe = machine.environ.get("CONDA_DEFAULT_ENV"), machine.environ.get("CONDA_EXE")
    if not env or not exe or not (Path(machine.prefix) / "conda-meta").is_dir():
        return None
    parts = exe.replace("/", "\\").split("\\")
    return "\\".join(parts[:-2]), env


def install_settings(machine: Machine) -> tuple[dict[str, object], list[str], list[str]]:
    """Settings for the configuration sheet, with notes and warnings for the user."""
    settings: dict[str, object] = {}
    notes, warnings = [], []

    def use(key, safe: SafePath):
        settings[key] = safe.value
        if safe.note:
            notes.append(safe.note)
        if safe.warning:
            warnings.append(safe.warning)

    conda = conda_settings(machine)
    if conda:
        use("Conda Path", ansi_safe(conda[0], machine, "Conda "))
        settings["Conda Env"] = conda[1]
        settings["Interpreter_Win"] = ""
        notes.append(f"使用 conda 环境 {conda[1]}（与 xlwings 的做法相同）")
    else:
        use("Interpreter_Win", ansi_safe(machine.executable, machine, "Python "))
    temp = machine.environ.get("TEMP") or tempfile.gettempdir()
    safe_temp = ansi_safe(temp, machine, "临时文件夹")
    settings["TEMP DIR"] = "%TEMP%" if safe_temp.value == temp else safe_temp.value
    if safe_temp.note:
        notes.append(safe_temp.note)
    if safe_temp.warning:
        warnings.append(safe_temp.warning.replace("Excel 函数（UDF）将无法启动 Python",
                                                  "按钮出错时的错误信息将无法显示"))
    return settings, notes, warnings


def environment_problems(machine: Machine, settings: Mapping[str, object]) -> list[str]:
    """What would stop the add-in from starting Python with these settings."""
    import xlwings
    problems = []
    if xlwings.__version__ != B.XLWINGS_VERSION:
        problems.append(f"当前环境的 xlwings 是 {xlwings.__version__}，加载项需要 {B.XLWINGS_VERSION}："
                        f"pip install xlwings=={B.XLWINGS_VERSION}")
    interpreter = str(settings.get("Interpreter_Win") or "")
    if interpreter and not Path(interpreter).is_file():
        problems.append(f"找不到加载项设置的 Python：{interpreter}")
    if interpreter:
        folders = [Path(interpreter).parent, Path(interpreter).parent.parent]
        dlls = [f"xlwings64-{B.XLWINGS_VERSION}.dll", f"xlwings32-{B.XLWINGS_VERSION}.dll"]
        if not any((folder / dll).is_file() for folder in folders for dll in dlls):
            problems.append(f"在 {folders[0]} 或 {folders[1]} 中找不到 xlwings64-{B.XLWINGS_VERSION}.dll："
                            f"Excel 函数需要它，请在该环境中重新 pip install xlwings=={B.XLWINGS_VERSION}")
    if machine.is_windows and importlib.util.find_spec("win32com") is None:
        problems.append("当前环境缺少 pywin32：pip install pywin32")
    return problems


# ------------------------------------------------------------------ install

@dataclass
class InstallResult:
    path: Path
    stage: str | None
    settings: dict[str, object]
    notes: list[str]
    warnings: list[str]


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except PermissionError as exc:
        temporary.unlink(missing_ok=True)
        raise B.AddinError(f"无法写入 {target}：Excel 可能正在运行并打开了这个加载项。"
                           f"请关闭所有 Excel 窗口后重试。（{exc.strerror}）") from exc
    # A file carrying the "downloaded from the internet" mark has its macros blocked; ours is
    # written fresh, but drop the mark if some tool copied one along.
    try:
        os.remove(str(target) + ":Zone.Identifier")
    except OSError:
        pass


def install(*, source: Path | None = None, xlstart: Path | None = None,
            machine: Machine | None = None, show_console: bool = False) -> InstallResult:
    """Copy the add-in (built here, or ``source``) into XLSTART with this machine's settings.
    ``show_console`` (diagnosis only) makes xlwings show Python's console window, where the
    UDF server prints why it does not start."""
    machine = machine or Machine()
    require_windows("install", machine)
    settings, notes, warnings = install_settings(machine)
    if show_console:
        settings["Show Console"] = True
        notes.append("已打开 Show Console：Python 会显示一个控制台窗口（用于查错；查完后请不带 --show-console 重新安装）")
    if source is not None:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise B.AddinError(f"无法读取 {source}：{exc}") from exc
        data = B.replace_settings(data, settings)
    else:
        data, _ = B.build_bytes(settings)
    stage = B.read_stage(data)
    warnings += environment_problems(machine, settings)
    target = xlstart_dir(machine, xlstart) / B.ADDIN_NAME
    _write_atomically(target, data)
    return InstallResult(target, stage, B.read_conf_sheet(data), notes, warnings)


def describe_install(result: InstallResult) -> str:
    lines = ["已安装 xlperf 加载项：", f"  文件：{result.path}", f"  阶段：{_stage_text(result.stage)}",
             f"  设置（写在加载项的 {B.CONF_SHEET} 工作表中）："]
    for key in ("Interpreter_Win", "Conda Path", "Conda Env", "UDF Modules", "ADD_WORKBOOK_TO_PYTHONPATH",
                "TEMP DIR", "Show Console"):
        value = result.settings.get(key)
        if value not in (None, "", False):
            lines.append(f"    {key} = {value}")
    lines.append("  不需要勾选「信任对 VBA 工程对象模型的访问」。")
    lines += [f"  说明：{n}" for n in result.notes]
    lines += [f"  警告：{w}" for w in result.warnings]
    if result.stage != B.STAGE_FINISHED:
        lines.append("  警告：这是未完成的加载项（按钮已禁用，没有 Excel 函数）。请维护人员在 Windows 上运行一次 "
                     "xlperf addin finish，或用 --file 安装维护人员提供的完成版 xlperf.xlam。")
    lines.append("请重启 Excel：功能区会出现「绩效自评」选项卡。")
    return "\n".join(lines)


def _stage_text(stage: str | None) -> str:
    return {B.STAGE_FINISHED: "完成版（按钮与 Excel 函数可用）",
            B.STAGE_TEMPLATE: "未完成（模板 VBA，按钮已禁用）"}.get(stage or "", f"未知（{stage}）")


def uninstall(*, xlstart: Path | None = None, machine: Machine | None = None) -> str:
    machine = machine or Machine()
    require_windows("uninstall", machine)
    target = xlstart_dir(machine, xlstart) / B.ADDIN_NAME
    if not target.exists():
        return f"xlperf 加载项未安装（{target} 不存在），无需卸载。"
    try:
        target.unlink()
    except PermissionError as exc:
        raise B.AddinError(f"无法删除 {target}：Excel 正在使用这个加载项。请关闭所有 Excel 窗口后重试。") from exc
    return f"已删除 {target}。重启 Excel 后「绩效自评」选项卡和 XLPERF_* 函数将不再出现。"


def status(*, xlstart: Path | None = None, machine: Machine | None = None) -> tuple[bool, str]:
    machine = machine or Machine()
    require_windows("status", machine)
    target = xlstart_dir(machine, xlstart) / B.ADDIN_NAME
    if not target.is_file():
        return False, f"xlperf 加载项未安装。xlperf addin install 会把它安装到 {target}。"
    data = target.read_bytes()
    try:
        settings = B.read_conf_sheet(data)
        stage = B.read_stage(data)
    except (B.AddinError, KeyError, zipfile.BadZipFile) as exc:
        return False, f"{target} 不是可读的 xlperf 加载项：{exc}"
    lines = [f"已安装：{target}", f"  SHA-256：{hashlib.sha256(data).hexdigest()}",
             f"  阶段：{_stage_text(stage)}", f"  设置（{B.CONF_SHEET} 工作表）："]
    lines += [f"    {k} = {v}" for k, v in settings.items() if v not in (None, "")]
    problems = environment_problems(machine, settings)
    if stage != B.STAGE_FINISHED:
        problems.append("加载项未完成：按钮已禁用，没有 Excel 函数（见 xlperf addin finish）。")
    current = ansi_safe(machine.executable, machine, "Python ").value
    if settings.get("Interpreter_Win") and str(settings["Interpreter_Win"]).lower() not in (
            current.lower(), machine.executable.lower()):
        lines.append(f"  说明：加载项使用的 Python 不是当前这个（{machine.executable}）；"
                     f"要改用当前环境，请在当前环境中重新运行 xlperf addin install。")
    lines += [f"  问题：{p}" for p in problems]
    lines.append("状态正常。" if not problems else f"发现 {len(problems)} 个问题。")
    return not problems, "\n".join(lines)


# ------------------------------------------------------------------- finish

def _normalised(code: str) -> list[str]:
    """Module text as compared after a round trip through the VBA editor (which re-cases
    identifiers project-wide and drops Attribute lines)."""
    return [line.strip().lower() for line in code.replace("\r\n", "\n").split("\n")
            if line.strip() and not line.startswith("Attribute ")]


def verify_finished(xlam: bytes) -> list[str]:
    """Problems of a finished add-in's VBA: both generated modules present with our text."""
    from .check import vba_modules
    modules = {name.lower(): code for name, code in vba_modules(xlam).items()}
    problems = []
    for name, text in vba.modules().items():
        code = modules.get(name.lower())
        if code is None:
            problems.append(f"VBA 工程中没有模块 {name}。")
        elif _normalised(code) != _normalised(text):
            problems.append(f"VBA 模块 {name} 与 xlperf 生成的源码不一致（导入了旧版本或改过？）。")
    return problems


def export_finished(xlam: bytes, export_dir: Path, *, made_by: str) -> tuple[Path, Path]:
    """Store the VBA project of a finished add-in where :func:`build.choose_vba` finds it."""
    problems = verify_finished(xlam)
    if problems:
        raise B.AddinError("完成版加载项检查未通过：" + "；".join(problems))
    with zipfile.ZipFile(io.BytesIO(xlam)) as z:
        data = z.read("xl/vbaProject.bin")
    bin_path, manifest_path = B.finished_vba_paths(Path(export_dir))
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    bin_path.write_bytes(data)
    manifest_path.write_text(json.dumps({
        "xlwings": B.XLWINGS_VERSION,
        "template_sha256": B.TEMPLATE_SHA256,
        "sources_sha256": vba.sources_digest(vba.modules(), B.XLWINGS_VERSION),
        "bin_sha256": hashlib.sha256(data).hexdigest(),
        "made_by": made_by,
        "date": _dt.date.today().isoformat(),
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return bin_path, manifest_path


def finish_in_excel(machine: Machine | None = None) -> bytes:  # pragma: no cover - Windows + Excel
    """Put the two generated modules into a template-stage add-in with Excel (xlwings/COM)
    and return the saved add-in. Needs "Trust access to the VBA project object model"."""
    machine = machine or Machine()
    require_windows("finish", machine)
    import xlwings as xw
    import xlwings.udfs

    texts = vba.modules()
    template = B.template_bytes()
    with zipfile.ZipFile(io.BytesIO(template)) as z:
        project = B.VbaProject(z.read("xl/vbaProject.bin"), B.STAGE_TEMPLATE)
    data, _ = B.build_bytes(vba_project=project)
    with tempfile.TemporaryDirectory(prefix="xlperf-finish-") as tmp:
        path = Path(tmp) / B.ADDIN_NAME       # the name matters: MacroOptions uses 'xlperf.xlam'!
        path.write_bytes(data)
        app = xw.App(visible=False, add_book=False)
        try:
            app.display_alerts = False
            book = app.books.open(str(path))
            try:
                components = book.api.VBProject.VBComponents
                components.Count  # noqa: B018 - raises when access is not trusted
            except Exception as exc:  # noqa: BLE001 - any COM error here is the trust setting
                raise B.AddinError(VBOM_MESSAGE) from exc
            module = components.Item(vba.RIBBON_MODULE).CodeModule
            if module.CountOfLines:
                module.DeleteLines(1, module.CountOfLines)
            module.AddFromString(vba.code_without_attributes(texts[vba.RIBBON_MODULE]).replace("\n", "\r\n"))
            # xlwings' own ImportPythonUDFsToAddin path: wrappers + Chinese argument descriptions.
            xlwings.udfs.import_udfs(vba.UDF_PYTHON_MODULE, book.api)
            book.save()
            book.close()
        finally:
            app.quit()
        return path.read_bytes()


def finish(*, saved: Path | None = None, export_dir: Path | None = None, out_dir: Path = Path("dist"),
           machine: Machine | None = None) -> tuple[B.BuildResult, Path]:
    """Make the finished VBA project (with Excel, or from an add-in finished by hand in the
    VBA editor), store it and build the finished add-in."""
    if saved is not None:
        data = Path(saved).read_bytes()
        made_by = f"xlperf addin finish --saved {Path(saved).name}"
    else:
        data = finish_in_excel(machine)
        made_by = "xlperf addin finish (Excel)"
    export_dir = export_dir or B.finished_vba_paths()[0].parent
    bin_path, _ = export_finished(data, export_dir, made_by=made_by)
    result = B.build(out_dir, vba_directory=export_dir)
    if result.stage != B.STAGE_FINISHED:  # pragma: no cover - export and build disagree
        raise B.AddinError(f"完成版 VBA 已保存到 {bin_path}，但生成时未被采用：{result.note}")
    return result, bin_path
