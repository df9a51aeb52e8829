"""Command line: ``xlperf <command> …``. Each workflow module registers its own
sub-command (``register_cli(subparsers)``) so its flags live next to its code."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import XlperfError, os_error_text

# Modules that contribute sub-commands, in the order `xlperf --help` lists them.
COMMAND_MODULES = ("generate", "recalc", "register", "layout", "report", "validate", "addin", "audit", "history",
                   "libreoffice", "bundle")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xlperf", description="财政项目支出绩效申报表/自评表：生成、计分、检查、汇总。")
    parser.add_argument("-v", "--verbose", action="store_true", help="输出调试日志（英文）")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"xlperf.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"xlperf.{name}":
                raise
            continue
        if hasattr(module, "register_cli"):
            module.register_cli(sub)
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
    parser = build_parser()
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


if __name__ == "__main__":
    sys.exit(main())
