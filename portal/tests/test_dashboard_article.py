"""After `manage.py load_demo`, the dashboards show the article's figures as printed.

承德市: 4,528 enterprises surveyed, 9,672 outside workers, 4,384 staying;
张家口市: 1,875 enterprises, 71,151 staying = 60,222 local + 10,929 non-local;
康保县: relief ¥1,982,400 (6,608 × ¥300, computed by the rule engine from the demo population).
"""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse


@pytest.mark.django_db
def test_the_articles_figures_come_out_as_printed(client, province_staff):
    call_command("load_demo", verbosity=0)
    client.force_login(province_staff)

    def panel(region):
        r = client.get(reverse("api-dashboard"), {"programme": "HEBEI-2021", "region": region})
        assert r.status_code == 200
        return r.json()

    chengde = panel("130800")["survey"]
    assert (chengde["enterprises_surveyed"], chengde["outside_workers"], chengde["staying"]) == (4528, 9672, 4384)
    assert chengde["enterprises_with_benefits"] == 140 and chengde["benefits_amount"] == "5113000.00"

    zjk = panel("130700")
    assert zjk["survey"]["enterprises_surveyed"] == 1875
    assert (zjk["survey"]["staying"], zjk["survey"]["staying_local"], zjk["survey"]["staying_nonlocal"]) == (
        71151,
        60222,
        10929,
    )
    assert sum(c["survey"]["staying"] for c in zjk["children"]) == 71151

    kangbao = panel("130723")
    assert kangbao["entitled"] == {"count": 6608, "amount": "1982400.00"}
    relief = [r for r in kangbao["by_rule"] if r["kind"] == "relief"]
    assert len(relief) == 1 and relief[0]["entitled"]["amount"] == "1982400.00"

    # Numbers add up across levels, and the overdue district is listed.
    province = panel("130000")
    for key in ("enterprises_surveyed", "outside_workers", "staying", "staying_local", "staying_nonlocal"):
        assert sum(c["survey"][key] for c in province["children"]) == province["survey"][key]
    assert sum(Decimal(c["entitled"]["amount"]) for c in province["children"]) == Decimal(
        province["entitled"]["amount"]
    )
    assert sum(c["registered_workers"] for c in province["children"]) == province["registered_workers"]
    assert [r["district"] for r in province["overdue"]["rows"]] == ["130903"]

    # The page prints them the way the article does.
    html = client.get(reverse("dashboard"), {"programme": "HEBEI-2021", "region": "130700"}).content.decode()
    assert "71,151" in html and "60,222" in html and "10,929" in html and "1,982,400.00" in html
    html = client.get(reverse("dashboard"), {"programme": "HEBEI-2021", "region": "130800"}).content.decode()
    assert "4,528" in html and "9,672" in html and "4,384" in html
