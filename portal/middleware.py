"""Request middleware of the portal.

Chinese first: the language is the user's explicit choice (the 中文/English switch,
kept in a cookie), otherwise zh-hans — never the browser's Accept-Language, because
a district office's borrowed English-locale browser must still show Chinese."""

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext


class ChineseFirstLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        # The language is the request's only: the thread goes back to what it had, so
        # that work done after the response (in-process tasks, the next test) does not
        # write English into stored messages.
        previous = translation.get_language()
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            if previous:
                translation.activate(previous)
            else:
                translation.deactivate()
        response.headers.setdefault("Content-Language", language)
        return response


class UploadSizeLimitMiddleware:
    """Refuse an upload over the limit of the view it goes to *before* its body is read.

    A view opts in with an `upload_max_bytes` attribute (a function returning the limit
    of its file; beneficiaries.spreadsheets.limit_upload sets it). From the request's
    Content-Length the answer is 413 at once, without reading a byte of the body
    (Django never reads past the declared length, and reads nothing of a body without
    one). This middleware must come before CsrfViewMiddleware, whose process_view reads
    the body of every POST to find the CSRF token."""

    # Room for the multipart framing and the small form fields beside the file.
    OVERHEAD = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        limit_of = getattr(view_func, "upload_max_bytes", None) or getattr(
            getattr(view_func, "cls", None), "upload_max_bytes", None
        )
        if limit_of is None or request.method not in ("POST", "PUT", "PATCH"):
            return None
        limit = limit_of() + self.OVERHEAD
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return _too_large(request, limit_of())
        return None


def _too_large(request, limit: int):
    message = gettext(
        "文件超过上限 %(limit)s MB，未上传。请删除空白行和无关的工作表，或把名单拆分成几个文件分别上传。"
    ) % {"limit": f"{limit / 1024 / 1024:.0f}"}
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "code": "too_large"}, status=413, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = render(request, "413.html", {"message": message}, status=413)
    # (No "Connection: close" here: hop-by-hop headers are the WSGI server's; gunicorn and
    # runserver close a connection whose request body was not read.)
    return response


# --- Content-Security-Policy --------------------------------------------------------------


_PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_policy_headers: dict[bool, str] = {}


@receiver(setting_changed)
def _forget_policy(setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policy_headers.clear()


class StaticPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, the header built once per process instead of on every response.

    The portal's policy comes from settings alone: no view changes it (no @csp_update/@csp_replace)
    and no template asks for a nonce. Building it (build_policy over a dataclass copied with
    asdict) cost about 0.15-0.3 ms of every request. A response that does carry its own policy, or
    a request that used a nonce, still goes through django-csp's own code."""

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for report_only, header, exempt, setting in (
            (False, HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (True, HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            if report_only not in _policy_headers:
                _policy_headers[report_only] = build_policy(report_only=report_only)
            policy = _policy_headers[report_only]
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
