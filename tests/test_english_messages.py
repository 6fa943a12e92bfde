"""English mode for what the services write: rule condition texts, batch alarms and job
messages (stored in Chinese by workers, shown in the page's language)."""

from decimal import Decimal
from types import SimpleNamespace

from django.utils import translation

from accounts.job_messages import job_message
from accounts.models import Job
from disbursements.batches import batch_integrity_problems, batches_build
from disbursements.models import Batch
from disbursements.tests.batch_factories import make_entitlements, make_programme, make_rule
from programs.rules import describe_conditions

LUQUAN = SimpleNamespace(
    conditions={
        "hukou_outside": "city",
        "ownership_in": ["private", "construction"],
        "on_duty_min_days": 3,
        "stayed_through_holiday": True,
    },
    valid_until="2021-03-08",
)


def test_rule_conditions_in_english_and_chinese():
    with translation.override("en"):
        english = describe_conditions(LUQUAN)
    assert "Ownership: Private / non-public, Construction project" in english
    assert "On duty at least 3 days over the Spring Festival" in english
    assert "Valid until 2021-03-08" in english
    assert not any("经济类型" in text for text in english)
    with translation.override("zh-hans"):
        chinese = describe_conditions(LUQUAN)
    assert "经济类型：私营/非公、施工项目" in chinese and "春节假期全程留岗" in chinese


def test_job_messages_follow_the_page_language_and_the_amount_format():
    stored = "已生成银行文件 B-1.csv（605 笔，302500.00 元）"
    with translation.override("en"):
        assert job_message(stored) == "Bank file B-1.csv made (605 payments, ¥302,500.00)"
        assert job_message("已导入 605 条结果：成功 602 笔，失败 3 笔，待定 0 笔") == (
            "605 results imported: 602 paid, 3 failed, 0 pending"
        )
        assert job_message("完成") == "Done"
        assert job_message("某条未列出的消息") == "某条未列出的消息"  # shown as written
        assert Job(message="已重新排队").message_text == "Queued again"
    with translation.override("zh-hans"):
        assert job_message(stored) == "已生成银行文件 B-1.csv（605 笔，302,500.00 元）"
        assert job_message("完成") == "完成"


def test_batch_alarms_in_english(officer_luquan):
    programme = make_programme("HB-EN")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 3, start=100)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    Batch.objects.filter(pk=batch.pk).update(total=batch.total + Decimal("1000"))
    batch.refresh_from_db()
    with translation.override("en"):
        problems = batch_integrity_problems(batch)
    assert problems == [f"The lines add up to ¥{batch.total - 1000:,.2f} but the batch total is ¥{batch.total:,.2f}"]
    with translation.override("zh-hans"):
        assert "与批次金额" in batch_integrity_problems(batch)[0]
