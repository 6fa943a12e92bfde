"""Navigation by role: every page's menu comes from here, so it matches the scope."""

from functools import partial

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.services.notifications import unread_count

# (label, url name, roles that see it). Later apps add their entries here; a name
# that is not routed yet is skipped rather than breaking every page.
MENU = [
    (_("首页"), "home", None),
    (_("数据看板"), "dashboard", {Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.ADMIN}),
    (_("摸排填报"), "programs:survey_list", {Role.CITY, Role.DISTRICT, Role.PROVINCE}),
    (_("用人单位"), "beneficiaries:employer_list", {Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.EMPLOYER}),
    (_("留岗人员"), "beneficiaries:registration_list", {Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.EMPLOYER}),
    (_("补贴规则"), "programs:rule_list", {Role.PROVINCE, Role.CITY, Role.DISTRICT}),
    (_("发放批次"), "disbursements:batch_list", {Role.PROVINCE, Role.CITY, Role.DISTRICT}),
    (_("公示管理"), "gongshi:manage", {Role.PROVINCE, Role.CITY, Role.DISTRICT}),
    (_("风险预警"), "signals:list", {Role.PROVINCE, Role.CITY, Role.DISTRICT}),
    (_("申诉"), "appeals:list", {Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.EMPLOYER}),
    (_("补贴发放"), "disbursements:employer_payments", {Role.EMPLOYER}),
    (_("审计记录"), "audit_list", {Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.ADMIN}),
    (_("用户管理"), "accounts:user_list", {Role.PROVINCE, Role.CITY, Role.ADMIN}),
    (_("后台任务"), "accounts:job_list", None),
]


# The menu's URLs, reversed once per script prefix and URLconf: they do not change while the process
# runs, and fourteen reverse() calls were a measurable part of every page (docs/operations.md "Serving").
_menu_urls: dict[tuple, list[tuple]] = {}


def _menu() -> list[tuple]:
    key = (get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))
    if key not in _menu_urls:
        entries = []
        for label, name, roles in MENU:
            try:
                entries.append((label, reverse(name), roles))
            except NoReverseMatch:
                continue
        _menu_urls[key] = entries
    return _menu_urls[key]


# A role's menu in one language, its labels translated: the same for every user of that role, so
# it is worked out once per process instead of a dozen lazy translations on every page. Its HTML
# (includes/nav_menu.html) likewise, once per role, language and highlighted entry.
_role_menus: dict[tuple, tuple[str, list[tuple[str, str]]]] = {}
_menu_html: dict[tuple, str] = {}


def _role_menu(key: tuple) -> tuple[str, list[tuple[str, str]]]:
    if key not in _role_menus:
        role = key[0]
        entries = [(str(label), url) for label, url, roles in _menu() if roles is None or role in roles]
        _role_menus[key] = (str(Role(role).label), entries)
    return _role_menus[key]


def _menu_fragment(key: tuple, items: list[dict]) -> str:
    html_key = (*key, tuple(item["active"] for item in items))
    if html_key not in _menu_html:
        _menu_html[html_key] = render_to_string("includes/nav_menu.html", {"nav_items": items})
    return _menu_html[html_key]


# The base page's own links, reversed once per script prefix and URLconf, as the menu's are.
_page_urls: dict[tuple, dict[str, str]] = {}
PAGE_URLS = {
    "home": "home",
    "notifications": "notifications:list",
    "notifications_unread": "notifications:unread",
    "logout": "accounts:logout",
    "set_language": "set_language",
}


def _base_urls() -> dict[str, str]:
    key = (get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))
    if key not in _page_urls:
        _page_urls[key] = {name: reverse(route) for name, route in PAGE_URLS.items()}
    return _page_urls[key]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "page_urls": _base_urls()}
    role = Role.ADMIN if user.is_superuser else user.role
    key = (role, get_language(), get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))
    role_label, entries = _role_menu(key)
    path = request.path
    items = [
        {"label": label, "url": url, "active": path == url or (url != "/" and path.startswith(url))}
        for label, url in entries
    ]
    return {
        "nav_items": items,
        "nav_menu": mark_safe(_menu_fragment(key, items)),  # noqa: S308 (rendered by the template engine, escaped)
        "page_urls": _base_urls(),
        "user_role_label": role_label,
        # The bell: a callable, so that the count query runs only where a page shows it.
        "notification_unread": partial(unread_count, user),
    }
