"""The Content-Security-Policy: on every page, without 'unsafe-inline', and templates
that need none (no inline scripts, event handlers, style attributes or <style>)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\sstyle\s*=", re.I), 'style="" attribute'),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_no_inline_scripts_or_styles():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = re.sub(
            r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", path.read_text(encoding="utf-8"), flags=re.S
        )
        for pattern, what in INLINE:
            for m in pattern.finditer(text):
                found.append(f"{path.relative_to(TEMPLATES)}: {what}: {m.group(0)[:40]}")
    assert not found, "\n".join(found)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/payments/lookup/", "/", "/programmes/rules/", "/api/docs/"])
def test_every_page_sends_a_policy_without_unsafe_inline(client, province_staff, url):
    client.force_login(province_staff)
    response = client.get(url, follow=True)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.content.decode()
    for pattern, what in INLINE:
        assert not pattern.search(html), (url, what, pattern.search(html).group(0))
