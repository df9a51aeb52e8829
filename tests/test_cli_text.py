"""Issue 13 item 9: the command line speaks Chinese — argparse's headings and messages,
a help line for every command and every argument, Chinese placeholders."""
from __future__ import annotations

import argparse
import importlib
import re

import pytest

from xlperf import cli
from xlperf.argparse_zh import Parser, _wrap, width


def _modules() -> list[str]:
    if hasattr(cli, "COMMANDS"):                    # lazy sub-commands: command -> (module, help)
        return list(dict.fromkeys(m for m, *_ in cli.COMMANDS.values()))
    return list(cli.COMMAND_MODULES)


def _full_parser() -> Parser:
    parser = Parser(prog="xlperf")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    for name in _modules():
        importlib.import_module(f"xlperf.{name}").register_cli(sub)
    return parser


def _walk(parser, path=("xlperf",)):
    yield path, parser
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in a._choices_actions}
            for name, sp in a.choices.items():
                assert helps.get(name), f"{' '.join(path)} {name}: command without help"
                yield from _walk(sp, path + (name,))


def test_every_command_and_argument_has_chinese_help():
    commands = 0
    for path, parser in _walk(_full_parser()):
        commands += 1
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                continue
            assert a.help, f"{' '.join(path)} {a.option_strings or a.dest}: no help"
            assert re.search(r"[\u4e00-\u9fff]", a.help), (path, a.help)
            if a.nargs != 0 and not a.choices:        # a placeholder chosen, not argparse's OUT/PROFILE
                assert a.metavar and a.metavar != a.dest.upper(), (path, a.dest, a.metavar)
        text = parser.format_help()
        assert text.startswith("用法：") and "选项：" in text, path
        for english in ("usage:", "options:", "positional arguments", "show this help"):
            assert english not in text, (path, english)
    assert commands >= 12


def test_top_level_help_lists_every_command_in_chinese(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：xlperf") and "位置参数：" in out and "选项：" in out
    for name in ("fill", "generate", "recalc", "harvest", "check", "render", "audit"):
        assert re.search(rf"^\s+{name}\s", out, re.M), name
    assert "自评表和申报表" in out                      # harvest/check read both kinds


def test_usage_errors_are_chinese_and_argparse_elsewhere_stays_english(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["recalc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "错误：缺少必需的参数：文件" in err and "usage" not in err
    with pytest.raises(SystemExit):
        cli.main(["generate", "x.xlsx", "-o", "out", "--kind", "年报"])
    assert "无效的选择" in capsys.readouterr().err
    plain = argparse.ArgumentParser(prog="other")
    assert plain.format_help().startswith("usage: other")    # only xlperf's parsers are translated


def test_help_lines_wrap_by_display_width():
    text = "按登记表（项目清单 + 绩效指标）为每个项目生成一份申报表或自评表，写 manifest.csv（文件、sha256）。"
    lines = _wrap(text, 30)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(width(line) <= 31 for line in lines)           # one closing mark may hang over
    assert not any(line[0] in "，。）" for line in lines)
    assert any("manifest.csv" in line for line in lines)      # a Latin word is never cut
