"""SMS backends: `settings.SMS_BACKEND` names the class; `send(message)` gets one outbox
row (`accounts.models.Notification`) and raises on failure (the task retries it).

The default writes nothing beyond the outbox row, which already records the message, and
one log line with the masked number: a development machine or a test never reaches a
provider. The provider backend, which needs the real number, lives beside the keys that
decrypt it: `beneficiaries.sms.HttpSmsBackend`.
"""

import logging

logger = logging.getLogger("portal.sms")


class SmsBackend:
    def send(self, message) -> None:  # pragma: no cover (interface)
        raise NotImplementedError


class LogSmsBackend(SmsBackend):
    """Default: the outbox row and the log are the delivery."""

    def send(self, message) -> None:
        logger.info("SMS #%s to %s: %s", message.pk, message.phone_masked, message.body)
