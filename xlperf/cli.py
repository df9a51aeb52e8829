"""Command line: ``xlperf <command> …``. Each workflow module registers its own
sub-command (``register_cli(subparsers)``) so its flags live next to its code.

Only the module of the command being run is imported: ``xlperf check FILE`` must not
pay for openpyxl/numpy that ``templates`` needs. ``xlperf --help`` lists every command
from :data:`COMMANDS` (kept equal to the modules' own help by tests/test_cli.py)."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import progress
from .argparse_zh import Parser
from .errors import XlperfError, os_error_text

# command → (module that registers it, its one-line help), in the order `xlperf --help` lists them.
# A module may register several commands (generate: fill and generate).
COMMANDS = {
    "fill": ("generate", "填写一个项目 → 一个工作簿"),
    "generate": ("generate", "按登记表批量生成：每个项目一个工作簿，按实施单位分文件夹，附 manifest.csv"),
    "recalc": ("recalc", "用评分引擎重新计分并写出检查结果（不改动填写内容）"),
    "register-template": ("register", "生成登记表模板（项目清单 + 绩效指标，含数据验证和填写说明）"),
    "templates": ("layout", "重新生成标准模板（自评表、申报表）"),
    "harvest": ("report", "汇总文件夹中的自评表和申报表：逐项核对，写出汇总.xlsx（含图表）和网页报告"),
    "check": ("validate", "核对自评表和申报表：执行率、得分、分值、总分、等级、偏差原因、单位、资金合计、计划日期、与申报表一致"),
    "addin": ("addin", "Excel 加载项 xlperf.xlam：生成、安装、卸载、状态"),
    "audit": ("audit", "核对种子表：重算印出的执行率、得分、总分和评分等级"),
    "history": ("history", "多年历史：把各年度汇总的表格存入一个数据库，出趋势报告"),
    "render": ("libreoffice", "用 LibreOffice 将工作簿打印为 PDF 和 PNG 图片（预览打印效果）"),
    "bundle": ("bundle", "生成 Windows 离线安装包（wheel、加载项、安装.cmd），无需联网和管理员权限即可安装"),
}


# The modules that contribute sub-commands (kept for code that asked for them before COMMANDS).
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _help in COMMANDS.values()))


def _command_in(argv: list[str]) -> str | None:
    """The sub-command named in argv (the top level has only flags without values)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with *command*, only its module is imported and registered, otherwise
    every command is a stub carrying its help line (enough for usage and --help)."""
    parser = Parser(
        prog="xlperf", description="财政项目支出绩效申报表/自评表：生成、计分、检查、汇总。")
    parser.add_argument("-v", "--verbose", action="store_true", help="输出调试日志（英文）")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    if command is not None:
        importlib.import_module(f"xlperf.{COMMANDS[command][0]}").register_cli(sub)
    else:
        for name, (_module, help_text) in COMMANDS.items():
            sub.add_parser(name, help=help_text)
    return parser


def configure_console() -> None:
    """A character the console cannot show (a GBK console, output redirected to a file)
    becomes a replacement character instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):  # not a TextIOWrapper (tests capture it), or closed
            pass


def main(argv: list[str] | None = None) -> int:
    configure_console()
    from .terminal import guard
    with guard():    # nothing a file holds may drive the terminal (escapes, bidi, CR)
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    progress.start()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except XlperfError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder without write permission…: one sentence
        where = f"「{exc.filename}」：" if getattr(exc, "filename", None) else ""
        print(f"错误：{where}{os_error_text(exc)}。", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    finally:
        progress.finish()


if __name__ == "__main__":
    sys.exit(main())
