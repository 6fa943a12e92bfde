"""The SMS provider backend (settings.SMS_BACKEND = "beneficiaries.sms.HttpSmsBackend").

It lives here, not in accounts, because it is the one place that needs a worker's real
phone number: it decrypts the outbox row's copy of `Person.phone_cipher` with the PII
keys only at the moment of sending, and the number goes nowhere else (the log keeps the
masked one).

The request follows the shape common to China's SMS APIs (Aliyun SendSms, Tencent
SendSms): a JSON POST with the number, the sign name, a template code and its parameters,
plus the finished text for providers that take free text, and the outbox key as the
caller's reference ("out_id") so a provider that deduplicates can. Any answer other than
2xx with `"code": "OK"` (or 0) is a failure and is retried with backoff by the task.
"""

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings

from accounts.sms import SmsBackend
from beneficiaries import pii

logger = logging.getLogger("portal.sms")


class SmsSendError(RuntimeError):
    pass


class HttpSmsBackend(SmsBackend):
    def __init__(self, *, url: str | None = None, key: str | None = None, timeout: int | None = None):
        self.url = url or settings.SMS_HTTP_URL
        self.key = key if key is not None else settings.SMS_HTTP_KEY
        self.timeout = timeout or settings.SMS_HTTP_TIMEOUT

    def payload(self, message) -> dict:
        return {
            "phone": pii.decrypt(message.phone_cipher),
            "sign_name": settings.SMS_SIGN_NAME,
            "template_code": message.event,
            "template_params": message.params,
            "content": message.body,
            "out_id": message.key,
        }

    def send(self, message) -> None:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's setting)
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self.key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read().decode("utf-8") or "{}")
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise SmsSendError(f"短信平台无应答或应答无法解析：{exc}") from exc
        code = answer.get("code", answer.get("Code"))
        if code not in ("OK", "ok", 0, "0"):
            raise SmsSendError(f"短信平台拒绝：{answer.get('message') or answer.get('Message') or code}")
        logger.info("SMS #%s to %s accepted by the provider", message.pk, message.phone_masked)
