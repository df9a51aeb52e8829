"""``xlperf history add | report | identity``."""
from __future__ import annotations

from pathlib import Path

from .store import DEFAULT_DB


def _cmd_add(args) -> int:
    from .store import add
    rep = add(args.db, args.paths, workers=args.workers, profile=args.profile)
    print(f"历史数据库「{args.db}」：{rep.summary_zh()}")
    for f in rep.unreadable:
        print(f"  无法读取：{f}")
    return 0


def _cmd_report(args) -> int:
    from .report import write_reports
    out = write_reports(args.db, html=args.html, xlsx=args.output, profile=args.profile, force=args.force)
    print(f"趋势报告：{'；'.join(str(p) for p in out)}（用时 {out.seconds:.2f} 秒）。")
    return 0


def _cmd_identity(args) -> int:
    from .report import import_overrides
    n = import_overrides(args.db, args.workbook)
    print(f"已从「{args.workbook}」读入项目对应 {n} 条（人工指定编号），写入「{args.db}」。")
    return 0


def register_cli(sub) -> None:
    p = sub.add_parser("history", help="多年历史：把各年度汇总的表格存入一个数据库，出趋势报告",
                       description="把每年收集的自评表、申报表存入同一个 DuckDB 数据库文件（单机、无需服务器），"
                                   "跨年度比较执行率、指标值漂移、偏低的指标值、自评分偏高、项目新增与结束。")
    hs = p.add_subparsers(dest="history_command", metavar="子命令")
    a = hs.add_parser("add", help="导入一个文件夹（或 xlperf 的 汇总.xlsx 所列的文件）",
                      description="读取并核对文件夹中的表格，写入历史数据库。同一文件再次导入不会重复；"
                                  "内容有变的文件替换旧版本并记录变化；导入中断时数据库保持原样。")
    a.add_argument("paths", nargs="+", metavar="文件夹或汇总.xlsx", help="某一年度表格所在文件夹，或 xlperf 写出的 汇总.xlsx")
    a.add_argument("--db", default=DEFAULT_DB, help=f"历史数据库文件（默认 {DEFAULT_DB}）")
    a.add_argument("--profile", help="指定评分规则（默认按表上数字推断）")
    a.add_argument("--workers", type=int, default=None, metavar="进程数", help="并行读取的进程数")
    a.set_defaults(func=_cmd_add)
    r = hs.add_parser("report", help="写出趋势报告（网页，可选工作簿）",
                      description="从历史数据库写出可离线打开的网页报告，并可另出带图表的工作簿；"
                                  "工作簿中的“项目对应”表可由管理员填写后用 xlperf history identity 读回。")
    r.add_argument("--db", default=DEFAULT_DB, help=f"历史数据库文件（默认 {DEFAULT_DB}）")
    r.add_argument("--html", default="趋势报告.html", help="网页报告（默认 趋势报告.html）")
    r.add_argument("-o", "--output", metavar="趋势.xlsx", help="同时写出工作簿")
    r.add_argument("--profile", help="阈值所在的评分规则文件（[history] 表，默认 shanghai）")
    r.add_argument("--force", action="store_true", help="覆盖已存在的输出文件")
    r.set_defaults(func=_cmd_report)
    i = hs.add_parser("identity", help="读回工作簿“项目对应”表中人工指定的项目编号",
                      description="读取 xlperf history report -o 写出的工作簿中的“项目对应”工作表："
                                  "“人工指定编号”一列填写的内容决定该表格属于哪个项目（留空则按自动识别）。")
    i.add_argument("workbook", type=Path, metavar="趋势.xlsx", help="填写过“项目对应”表的趋势工作簿")
    i.add_argument("--db", default=DEFAULT_DB, help=f"历史数据库文件（默认 {DEFAULT_DB}）")
    i.set_defaults(func=_cmd_identity)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
