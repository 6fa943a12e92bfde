"""The streamed bank and red-packet CSVs (disbursements.services.file_stream) against the
row-by-row writers they replace on PostgreSQL: the same bytes for values that need
quoting, formula guards or escaping, every amount and both encodings, in one process or
in forked workers; the content hash of the approval from the same pass; and an export
of a batch that no longer adds up refused, with no file and no record."""

import io
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import DomainError
from disbursements.models import BatchExport, PaymentLine
from disbursements.services import file_stream, red_packets
from disbursements.services.batch_lines import batch_recount
from disbursements.services.batches import batch_content_hash, batches_build
from disbursements.services.payment_files import bank_files_dir, batch_export, csv_streamed, write_csv
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the stream is PostgreSQL's COPY"),
]

# A name, a bank and an amount per line: what csv.writer quotes, what safe_cell guards,
# what COPY's text format escapes, characters outside the BMP and GB18030's four bytes.
TRICKY = [
    ("王小明", "中国工商银行", "500.00"),
    ("Smith, John", '农业银行 "营业部"', "0.01"),
    ('李"四"', "建设银行,石家庄分行", "12345678.90"),
    ("=1+1", "=银行", "800.50"),
    ("＋张三", "－银行", "1.10"),
    ("-赵六", "@银行", "99.99"),
    ("钱𠀀八", "邮储银行", "300.00"),
    ("back\\slash", "tab\tbank", "200.00"),
    ("line\nbreak", "cr\rbank", "7.00"),
    ("买买提·艾力", "", "10000.00"),
]


def _tricky_batch(officer, city, province, *, channel="bank_card", district="130110"):
    programme = make_programme(f"HB-STREAM-{channel}")
    rule = make_rule(
        programme,
        f"s_{channel}",
        region=district,
        kind=channel if channel == "red_packet" else "cash",
        channel=channel,
        name='补贴,"稳岗"',
    )
    make_entitlements(programme, rule, len(TRICKY), district=district, start=4200)
    (batch,) = batches_build(programme=programme, acting_user=officer)
    for line, (name, bank, amount) in zip(batch.lines.order_by("seq"), TRICKY, strict=True):
        PaymentLine.objects.filter(pk=line.pk).update(name=name, bank_name=bank, amount=Decimal(amount))
        type(line.entitlement).objects.filter(pk=line.entitlement_id).update(amount=Decimal(amount))
    batch_recount(batch)
    return approve(batch, officer, city, province)


@pytest.fixture
def tricky(officer_luquan, city_shijiazhuang, province_staff):
    return _tricky_batch(officer_luquan, city_shijiazhuang, province_staff)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("parallel", [False, True])
def test_the_stream_writes_the_bytes_of_the_row_writer(tricky, encoding, parallel, monkeypatch):
    monkeypatch.setattr(file_stream, "RANGE_LINES", 3)  # several ranges, and the workers take some
    rows, streamed = io.BytesIO(), io.BytesIO()
    assert write_csv(tricky, rows, encoding=encoding, fast=False) == (len(TRICKY), tricky.total)
    result = csv_streamed(tricky, streamed, encoding=encoding, parallel=parallel)
    assert streamed.getvalue() == rows.getvalue()
    assert (result.lines, result.fen, result.differing) == (len(TRICKY), int(tricky.total * 100), 0)
    assert result.content_hash == batch_content_hash(tricky) == tricky.content_hash
    assert "买买提·艾力" in rows.getvalue().decode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_the_red_packet_stream_writes_the_bytes_of_the_row_writer(
    officer_luquan, city_shijiazhuang, province_staff, encoding, monkeypatch
):
    monkeypatch.setattr(file_stream, "RANGE_LINES", 4)
    batch = _tricky_batch(officer_luquan, city_shijiazhuang, province_staff, channel="red_packet")
    rows, streamed = io.BytesIO(), io.BytesIO()
    red_packets.write_csv(batch, rows, encoding=encoding)
    result = red_packets.csv_streamed(batch, streamed, encoding=encoding, parallel=True)
    assert streamed.getvalue() == rows.getvalue()
    assert result.content_hash == batch.content_hash and result.lines == len(TRICKY)


def test_seq_ranges_cover_every_line():
    assert file_stream.seq_ranges(0) == [(None, None)]
    assert file_stream.seq_ranges(5, 2) == [(None, 2), (3, 4), (5, None)]
    assert file_stream.seq_ranges(4, 2) == [(None, 2), (3, None)]


@pytest.mark.parametrize(
    "tamper, problem",
    [
        (dict(name="篡改"), "校验值"),
        (dict(amount=Decimal("1.00")), "核定金额"),
    ],
)
def test_an_export_of_a_batch_that_does_not_add_up_is_refused(tricky, officer_luquan, tamper, problem):
    PaymentLine.objects.filter(batch=tricky, seq=2).update(**tamper)
    with pytest.raises(DomainError, match=problem):
        batch_export(batch=tricky, fmt="csv", acting_user=officer_luquan)
    assert not BatchExport.objects.filter(batch=tricky).exists()
    assert not list(bank_files_dir().glob(f"{tricky.number}*"))


def test_a_line_outside_the_numbering_is_seen(tricky, officer_luquan):
    """A line numbered past the batch's count is read (the last range is open) and refused."""
    PaymentLine.objects.filter(batch=tricky, seq=len(TRICKY)).update(seq=10_000)
    out = io.BytesIO()
    assert csv_streamed(tricky, out).lines == len(TRICKY)
    PaymentLine.objects.filter(batch=tricky, seq=1).update(seq=0)
    assert csv_streamed(tricky, io.BytesIO()).lines == len(TRICKY)
    # An extra line: the count no longer matches.
    line = PaymentLine.objects.filter(batch=tricky).first()
    line.pk, line.seq, line.status = None, 20_000, "failed"
    line.save()
    with pytest.raises(DomainError, match="笔数"):
        batch_export(batch=tricky, fmt="csv", acting_user=officer_luquan)
