"""A job's message in the page's language.

Workers write `Job.message` in Chinese, once, whatever language the person who
started the job reads (a task has no page language). The pages translate it when
they show it: each message a task writes is matched here to its catalog entry and
its figures are put back in. A message not listed is shown as written.
"""

import re

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core.money import MoneyError, to_yuan

# (pattern of the stored Chinese text, its catalog entry with the same named fields)
MESSAGES = [
    (r"完成", _("完成")),
    (r"已重新排队", _("已重新排队")),
    (r"任务出错：(?P<error>\w+)，请联系管理员或重试。", _("任务出错：%(error)s，请联系管理员或重试。")),
    (r"第 (?P<step>\d+)/(?P<steps>\d+) 步", _("第 %(step)s/%(steps)s 步")),
    (r"排队中，等待导入", _("排队中，等待导入")),
    (r"正在读取并校验…", _("正在读取并校验…")),
    (r"数据已校验，正在写入数据库…", _("数据已校验，正在写入数据库…")),
    (r"数据已校验，正在完成写入…", _("数据已校验，正在完成写入…")),
    (r"已发放 (?P<n>\d+) 张消费券", _("已发放 %(n)s 张消费券")),
    (
        r"已导入 (?P<rows>\d+) 条核销记录，新核销 (?P<n>\d+) 张",
        _("已导入 %(rows)s 条核销记录，新核销 %(n)s 张"),
    ),
    (
        r"已导入 (?P<rows>\d+) 条结果：成功 (?P<paid>\d+) 笔，失败 (?P<failed>\d+) 笔，待定 (?P<pending>\d+) 笔",
        _("已导入 %(rows)s 条结果：成功 %(paid)s 笔，失败 %(failed)s 笔，待定 %(pending)s 笔"),
    ),
    (r"已处理 (?P<done>\d+)/(?P<total>\d+)", _("已处理 %(done)s/%(total)s")),
    (
        r"生成 (?P<n>\d+) 个批次，(?P<lines>\d+) 笔，(?P<amount>[\d.,]+) 元",
        _("生成 %(n)s 个批次，%(lines)s 笔，%(amount)s 元"),
    ),
    (r"没有待生成批次的补贴核定记录", _("没有待生成批次的补贴核定记录")),
    (r"生成发放批次：(?P<what>.+)", _("生成发放批次：%(what)s")),
    (
        r"已生成银行文件 (?P<name>\S+)（(?P<lines>\d+) 笔，(?P<amount>[\d.,]+) 元）",
        _("已生成银行文件 %(name)s（%(lines)s 笔，%(amount)s 元）"),
    ),
    (r"导出银行文件：(?P<what>.+)", _("导出银行文件：%(what)s")),
    (r"导入银行结果：(?P<what>.+)", _("导入银行结果：%(what)s")),
    (r"发放消费券：(?P<what>.+)", _("发放消费券：%(what)s")),
    (r"导入消费券核销：(?P<what>.+)", _("导入消费券核销：%(what)s")),
    (r"刷新统计", _("刷新统计")),
    (
        r"统计已刷新：(?P<what>.+)（(?P<n>\d+) 个区县）",
        _("统计已刷新：%(what)s（%(n)s 个区县）"),
    ),
    (r"排队中：(?P<what>.+)", _("排队中：%(what)s")),
    (r"已分派 (?P<n>\d+) 个区县", _("已分派 %(n)s 个区县")),
    (r"区县 (?P<code>\d+) 计算出错，请重试。", _("区县 %(code)s 计算出错，请重试。")),
    (
        r"已完成 (?P<done>\d+)/(?P<total>\d+) 个区县（(?P<name>.+)）",
        _("已完成 %(done)s/%(total)s 个区县（%(name)s）"),
    ),
    (
        r"计算完成：写入 (?P<written>\d+) 条，撤销 (?P<withdrawn>\d+) 条，待复核 (?P<flagged>\d+) 条",
        _("计算完成：写入 %(written)s 条，撤销 %(withdrawn)s 条，待复核 %(flagged)s 条"),
    ),
]
_COMPILED = [(re.compile(rf"^{pattern}$"), entry) for pattern, entry in MESSAGES]


def _figures(groups: dict) -> dict:
    """Amounts in the common format (1,234.00), whatever the worker wrote."""
    if "amount" in groups:
        try:
            groups["amount"] = f"{to_yuan(groups['amount']):,.2f}"
        except MoneyError:
            pass
    return groups


def job_message(text: str) -> str:
    """`text` (a stored Job.message) in the active language, amounts in the common format."""
    if not text:
        return ""
    for pattern, entry in _COMPILED:
        match = pattern.match(text)
        if match:
            if not match.groupdict() and translation.get_language() in (None, "zh-hans"):
                return text
            return str(entry) % _figures(match.groupdict()) if match.groupdict() else str(entry)
    return text
