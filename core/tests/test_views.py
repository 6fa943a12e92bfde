"""core.views.flash_outcome: a page's POST runs a service and the next page says how it went."""

from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from core.errors import DomainError, PermissionDenied
from core.views import flash_outcome


def _request():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _said(request):
    return [(m.level, m.message) for m in messages.get_messages(request)]


def test_a_service_that_runs_gets_the_success_message():
    request, ran = _request(), []
    assert flash_outcome(request, lambda: ran.append(1), "已审核通过") is True
    assert ran == [1]
    assert _said(request) == [(messages.SUCCESS, "已审核通过")]


def test_a_refusal_says_the_services_own_words_and_not_the_success():
    request = _request()

    def refuse():
        raise PermissionDenied("只有单位所在区县的人社专员可以审核用人单位。")

    assert flash_outcome(request, refuse, "已审核通过") is False
    assert _said(request) == [(messages.ERROR, "只有单位所在区县的人社专员可以审核用人单位。")]


def test_the_level_can_be_info_for_work_that_is_only_queued():
    request = _request()
    flash_outcome(request, lambda: None, "正在生成银行文件", level=messages.INFO)
    assert _said(request) == [(messages.INFO, "正在生成银行文件")]


def test_an_error_that_is_not_a_domain_error_is_not_swallowed():
    request = _request()

    def crash():
        raise ValueError("a bug")

    try:
        flash_outcome(request, crash, "已审核通过")
    except ValueError:
        pass
    else:
        raise AssertionError("a bug must surface, not become a message")
    assert _said(request) == []
    assert issubclass(PermissionDenied, DomainError)
