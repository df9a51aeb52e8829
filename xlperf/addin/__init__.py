"""The Excel add-in ``xlperf.xlam``: ribbon tab 绩效自评 and the XLPERF_* cell functions.

``xlperf addin build|install|uninstall|status|check|finish``:

* ``build`` (any OS, CI): the add-in from the pinned xlwings custom-add-in template
  (:mod:`.build`), plus the VBA modules still to be put in as ``.bas`` text;
* ``check`` (any OS): the static checks of :mod:`.check` (ribbon XML and relationship,
  callbacks against the VBA project read with olevba, RunPython targets importable);
* ``install`` / ``uninstall`` / ``status`` (Windows): :mod:`.install`;
* ``finish`` (Windows, once, by a maintainer): puts the ribbon dispatcher and the UDF
  wrappers into the VBA project and stores it as ``xlperf/assets/vbaProject.bin``.

The ribbon's Python side is :mod:`.ribbon`; the cell functions are :mod:`xlperf.udfs`.
Submodules are imported lazily so ``RunPython`` from a ribbon button starts quickly.
"""
from __future__ import annotations

from pathlib import Path


def ribbon_action(action: str, book=None):
    """Entry point of the add-in's buttons (see :func:`xlperf.addin.ribbon.ribbon_action`)."""
    from .ribbon import ribbon_action as run
    return run(action, book)


# ------------------------------------------------------------------------ CLI

def _cmd_build(args) -> int:
    from . import build as B
    result = B.build(args.out)
    print(f"已生成 {result.path}（SHA-256 {result.sha256}）")
    print(f"  模板：xlwings {B.XLWINGS_VERSION} 的 {B.TEMPLATE_NAME}（版本记录在加载项的文档属性和构建说明中）")
    print(f"  阶段：{result.stage}（{result.note}）")
    for name, path in result.sidecar.items():
        print(f"  VBA 模块 {name}：{path}")
    print(f"  构建说明：{result.manifest}")
    if result.stage != "finished":
        print("  按钮暂时禁用：VBA 只能在 Windows 的 Excel 中加入，见 xlperf addin finish 与 docs/windows-checklist.md。")
    return 0


def _cmd_check(args) -> int:
    from . import build as B
    from .check import check_addin
    data = Path(args.file).read_bytes()
    report = check_addin(data, filename=Path(args.file).name)
    print(report.render())
    ok = report.ok
    sidecar = Path(args.vba) if args.vba else Path(args.file).parent / "xlperf-vba"
    if report.stage == B.STAGE_TEMPLATE and sidecar.is_dir():
        overrides = {p.stem: p.read_text(encoding="ascii") for p in sorted(sidecar.glob("*.bas"))}
        print(f"\n按完成后的 VBA 工程检查（加入 {sidecar} 中的 {'、'.join(overrides)}，按钮视为启用）：")
        effective = check_addin(data, filename=Path(args.file).name, overrides=overrides)
        print(effective.render())
        ok = ok and effective.ok
    return 0 if ok else 1


def _cmd_install(args) -> int:
    from .install import describe_install, install
    print(describe_install(install(source=args.file, xlstart=args.xlstart, show_console=args.show_console)))
    return 0


def _cmd_uninstall(args) -> int:
    from .install import uninstall
    print(uninstall(xlstart=args.xlstart))
    return 0


def _cmd_status(args) -> int:
    from .install import status
    ok, text = status(xlstart=args.xlstart)
    print(text)
    return 0 if ok else 1


def _cmd_finish(args) -> int:
    from .install import finish
    result, bin_path = finish(saved=args.saved, export_dir=args.export, out_dir=args.out)
    print(f"完成版 VBA 已保存：{bin_path}（及同目录的 vbaProject.json，请一并提交）")
    print(f"完成版加载项：{result.path}（SHA-256 {result.sha256}）")
    print("下一步：xlperf addin install（或把这个文件发给同事，用 xlperf addin install --file 安装）。")
    return 0


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser("addin", help="Excel 加载项 xlperf.xlam：生成、安装、卸载、状态")
    ops = parser.add_subparsers(dest="addin_command", metavar="操作")

    p = ops.add_parser("build", help="由固定版本的 xlwings 加载项模板生成 xlperf.xlam（任何系统）")
    p.add_argument("--out", type=Path, default=Path("dist"), help="输出文件夹（默认 dist）")
    p.set_defaults(func=_cmd_build)

    p = ops.add_parser("install", help="安装到 Excel 的 XLSTART 文件夹并写入 Python 设置（仅 Windows）")
    p.add_argument("--file", type=Path, help="要安装的 xlperf.xlam（默认现场生成）")
    p.add_argument("--xlstart", type=Path, help="Excel 启动文件夹（默认 %%APPDATA%%\\Microsoft\\Excel\\XLSTART）")
    p.add_argument("--show-console", action="store_true",
                   help="查错用：显示 Python 控制台窗口（Excel 函数启动失败时可看到原因）")
    p.set_defaults(func=_cmd_install)

    p = ops.add_parser("uninstall", help="从 XLSTART 文件夹删除加载项（仅 Windows）")
    p.add_argument("--xlstart", type=Path, help="Excel 启动文件夹")
    p.set_defaults(func=_cmd_uninstall)

    p = ops.add_parser("status", help="显示加载项是否安装、使用哪个 Python、有无问题（仅 Windows）")
    p.add_argument("--xlstart", type=Path, help="Excel 启动文件夹")
    p.set_defaults(func=_cmd_status)

    p = ops.add_parser("check", help="静态检查一个加载项文件（功能区 XML、回调宏、RunPython 目标）")
    p.add_argument("file", type=Path, help="要检查的加载项文件 xlperf.xlam")
    p.add_argument("--vba", type=Path, help="待加入的 .bas 模块所在文件夹（默认 文件旁的 xlperf-vba）")
    p.set_defaults(func=_cmd_check)

    p = ops.add_parser("finish", help="维护人员在 Windows 上运行一次：把按钮宏和 Excel 函数加入 VBA 工程")
    p.add_argument("--saved", type=Path, help="已在 VBA 编辑器中手动导入模块并保存的 xlperf.xlam（不用 Excel 自动化）")
    p.add_argument("--export", type=Path, help="完成版 VBA 的保存位置（默认 xlperf/assets）")
    p.add_argument("--out", type=Path, default=Path("dist"), help="完成版加载项的输出文件夹（默认 dist）")
    p.set_defaults(func=_cmd_finish)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
