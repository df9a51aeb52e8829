"""The command line's lazy sub-commands: `xlperf --help` lists every command without
importing the workflow modules, and a command imports only what it needs."""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from xlperf import cli


def _registered() -> dict[str, str]:
    """command → help, as the modules themselves register them."""
    found: dict[str, str] = {}
    for module in dict.fromkeys(m for m, _ in cli.COMMANDS.values()):
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"xlperf.{module}").register_cli(sub)
        for action in sub._choices_actions:
            found[action.dest] = action.help
    return found


def test_static_table_matches_the_modules():
    # The help list is a static copy so that --help imports nothing; it must not drift.
    assert {name: h for name, (_m, h) in cli.COMMANDS.items()} == _registered(), \
        "xlperf/cli.py COMMANDS must list every command with the help text its module registers"


def test_help_lists_every_command(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    flat = "".join(out.split())          # help lines wrap by display width (argparse_zh)
    for name, (_m, help_text) in cli.COMMANDS.items():
        assert name in out and "".join(help_text.split()) in flat


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys\nfrom xlperf import cli\n"
            "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    return set(out.stdout.split())


def test_check_one_file_imports_only_what_it_needs(tmp_path):
    heavy = {"openpyxl", "numpy", "pandas", "xlsxwriter", "jinja2", "lxml", "yaml", "xlperf.generate",
             "xlperf.layout", "xlperf.report", "xlperf.register", "xlperf.template"}
    path = tmp_path / "不是表格.xlsx"
    path.write_bytes(b"not a zip")
    loaded = _modules_after(["check", str(path)])
    assert "xlperf.validate" in loaded                       # the command did run
    assert not heavy & loaded, sorted(heavy & loaded)
    assert not {"xlperf.validate", "openpyxl"} & _modules_after(["--help"])


def test_unknown_command_lists_the_choices(capsys):
    try:
        cli.main(["nosuch"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "harvest" in capsys.readouterr().err
