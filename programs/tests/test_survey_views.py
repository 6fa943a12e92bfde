"""Survey pages: entry with errors beside fields, jump confirmation, review buttons, scope (404)."""

import datetime as dt

from django.urls import reverse

from programs.choices import SurveyStatus
from programs.models import SurveyReport

D = dt.date


def form_data(programme, as_of="2021-01-29", **changes):
    data = {
        "programme": programme.pk,
        "as_of": as_of,
        "enterprises_surveyed": 100,
        "outside_workers": 500,
        "outside_other_province": 100,
        "outside_other_city": 200,
        "outside_other_county": 100,
        "staying": 300,
        "staying_on_duty": 50,
        "staying_local": 100,
        "staying_nonlocal": 200,
        "poverty_staying": 3,
        "enterprises_with_benefits": 5,
        "benefits_amount": "8000.00",
    }
    data.update(changes)
    return data


def test_officer_enters_submits_and_city_approves(client, programme, officer_luquan, city_shijiazhuang):
    client.force_login(officer_luquan)
    assert client.get(reverse("programs:survey_create")).status_code == 200
    r = client.post(reverse("programs:survey_create"), form_data(programme))
    report = SurveyReport.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("programs:survey_detail", args=[report.pk])
    page = client.get(r["Location"]).content.decode()
    assert "提交市级审核" in page and "审核通过" not in page
    client.post(reverse("programs:survey_submit", args=[report.pk]))
    report.refresh_from_db()
    assert report.status == SurveyStatus.SUBMITTED

    client.force_login(city_shijiazhuang)
    page = client.get(reverse("programs:survey_detail", args=[report.pk])).content.decode()
    assert "审核通过" in page and "退回区县修改" in page
    client.post(reverse("programs:survey_return", args=[report.pk]), {"reason": ""})
    report.refresh_from_db()
    assert report.status == SurveyStatus.SUBMITTED  # no reason, not returned
    client.post(reverse("programs:survey_approve", args=[report.pk]))
    report.refresh_from_db()
    assert report.status == SurveyStatus.APPROVED
    listing = client.get(reverse("programs:survey_list"), {"programme": "T-2021"}).content.decode()
    assert "鹿泉区" in listing and "市级已审核" in listing


def test_errors_are_shown_beside_the_fields(client, programme, officer_luquan):
    client.force_login(officer_luquan)
    r = client.post(reverse("programs:survey_create"), form_data(programme, staying_nonlocal=250, as_of="2021-05-01"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "分项之和不能大于总数" in html
    assert "不在项目期间" in html
    r = client.post(reverse("programs:survey_create"), form_data(programme, staying=-3))
    assert "不能为负数" in r.content.decode()
    assert not SurveyReport.objects.exists()


def test_a_jump_asks_for_confirmation_then_saves(client, programme, officer_luquan):
    client.force_login(officer_luquan)
    client.post(reverse("programs:survey_create"), form_data(programme))
    r = client.post(
        reverse("programs:survey_create"), form_data(programme, as_of="2021-02-05", enterprises_surveyed=1000)
    )
    html = r.content.decode()
    assert r.status_code == 200 and "确认数据无误" in html and "变化超过" in html
    assert SurveyReport.objects.count() == 1
    r = client.post(
        reverse("programs:survey_create"),
        form_data(programme, as_of="2021-02-05", enterprises_surveyed=1000, confirm_jump="on"),
    )
    assert r.status_code == 302
    assert SurveyReport.objects.filter(as_of=D(2021, 2, 5), jump_confirmed=True).exists()


def test_scope_other_district_and_city_get_404(client, programme, officer_cangzhou, city_cangzhou, agent_gree):
    report = SurveyReport.objects.create(programme=programme, district_id="130110", as_of=D(2021, 1, 29))
    for user in (officer_cangzhou, city_cangzhou):
        client.force_login(user)
        assert client.get(reverse("programs:survey_detail", args=[report.pk])).status_code == 404
        assert client.post(reverse("programs:survey_approve", args=[report.pk])).status_code == 404
    # An employer agent may not use survey pages at all: the friendly 403, whatever the id.
    client.force_login(agent_gree)
    for pk in (report.pk, report.pk + 1000):
        response = client.get(reverse("programs:survey_detail", args=[pk]))
        assert response.status_code == 403 and "供人社部门工作人员使用" in response.content.decode()
    client.force_login(city_cangzhou)
    assert "鹿泉区" not in client.get(reverse("programs:survey_list")).content.decode()
    assert client.get(reverse("programs:survey_create")).status_code == 404


def test_list_shows_the_overdue_districts_to_the_city(client, programme, city_shijiazhuang):
    SurveyReport.objects.create(programme=programme, district_id="130110", as_of=D(2021, 3, 26), status="approved")
    client.force_login(city_shijiazhuang)
    html = client.get(reverse("programs:survey_list")).content.decode()
    assert "逾期未报" in html and "鹿泉区" in html and "未填报" in html


def test_edit_form_shows_the_saved_date_in_the_date_inputs_format(client, programme, officer_luquan):
    """<input type="date"> takes only YYYY-MM-DD: "2021/01/29" would show an empty field."""
    client.force_login(officer_luquan)
    client.post(reverse("programs:survey_create"), form_data(programme, as_of="2021-01-29"))
    report = SurveyReport.objects.get()
    html = client.get(reverse("programs:survey_edit", args=[report.pk])).content.decode()
    assert 'type="date"' in html and 'value="2021-01-29"' in html
    assert "2021/01/29" not in html


def test_list_rows_show_city_district_grouped_figures_and_status(client, programme, officer_luquan, city_shijiazhuang):
    """The rows are rendered in Python (programs/templatetags/survey_rows.py): each cell as the
    template had it, names escaped, and only the user's scope."""
    report = SurveyReport.objects.create(
        programme=programme, district_id="130110", as_of=D(2021, 1, 29), status=SurveyStatus.RETURNED,
        enterprises_surveyed=4528, outside_workers=9672, staying=71151, staying_local=60222, staying_nonlocal=10929,
    )  # fmt: skip
    SurveyReport.objects.create(
        programme=programme, district_id="130903", as_of=D(2021, 1, 29)
    )  # 沧州运河区: not theirs
    client.force_login(city_shijiazhuang)
    html = client.get(reverse("programs:survey_list"), {"programme": programme.code}).content.decode()
    link = reverse("programs:survey_list") + f"{report.pk}/"
    assert f'<td><a href="{link}">2021-01-29</a></td>\n    <td>石家庄市 · 鹿泉区</td>' in html
    assert '<td class="text-end">4,528</td>\n    <td class="text-end">9,672</td>' in html
    assert '<td class="text-end">71,151</td>\n    <td class="text-end">60,222 / 10,929</td>' in html
    assert '<span class="badge text-bg-danger">已退回</span>' in html
    assert html.count("<tr>\n    <td><a href=") == 1  # the other city's report is not listed
    SurveyReport.objects.filter(pk=report.pk).delete()
    assert "没有摸排报表。" in client.get(reverse("programs:survey_list")).content.decode()


def test_list_row_names_are_escaped():
    from programs.templatetags.survey_rows import survey_rows

    row = {
        "pk": 7, "as_of": D(2021, 2, 5), "city_name": "<b>市</b>", "district_name": "区&县",
        "enterprises_surveyed": 1000, "outside_workers": None, "staying": 0, "staying_local": 1, "staying_nonlocal": 2,
        "status": "submitted", "status_label": "<已提交>",
    }  # fmt: skip
    html = survey_rows([row], "/programmes/surveys/")
    assert '<a href="/programmes/surveys/7/">2021-02-05</a>' in html
    assert "<td>&lt;b&gt;市&lt;/b&gt; · 区&amp;县</td>" in html
    assert '<td class="text-end">1,000</td>\n    <td class="text-end">—</td>\n    <td class="text-end">0</td>' in html
    assert '<span class="badge text-bg-primary">&lt;已提交&gt;</span>' in html
