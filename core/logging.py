"""Secrets masked in every log line (app secrets, tokens, passwords, signatures, webhook
credentials), whichever handler writes it: the LogRecord factory installed at start-up masks
each record when it is made, tracebacks included; MaskSecretsFilter does the same on a handler.
"""

import logging
import re

_SECRET_PATTERN = re.compile(
    r"""(?ix)
    (?P<key>
        (?:app_?secret|appsecret|token|password|passwd|sign|signature|
           secret|authorization|x-api-signature|kdservice-sessionid|sessionid)
    )
    (?P<sep>["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token)\s+)?)
    (?!(?:null|true|false)\b)
    (?P<value>[^"'\s,&;}]+)
    """
)
# Credentials carried by a URL: a WeCom robot's ?key=, a Feishu robot's hook id in the path.
_URL_SECRET_PATTERN = re.compile(
    r"""(?ix)
    (?P<key>[?&](?:key|token)=|/bot/v2/hook/)
    (?P<value>[^"'\s&#/?]+)
    """
)


def mask_text(text: str, limit: int | None = None) -> str:
    """The text with secret values masked; with `limit`, only its first `limit` characters.

    Masking a 300 kB BatchSave body to keep its first 20,000 characters cost more than
    building it: the text is cut before masking, with a margin longer than any key and value,
    so a secret straddling the cut is still masked before the final cut."""
    if limit is not None:
        return _mask(text[: limit + 256])[:limit]
    return _mask(text)


def _mask(text: str) -> str:
    text = _SECRET_PATTERN.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)
    return _URL_SECRET_PATTERN.sub(lambda m: f"{m.group('key')}***", text)


_formatter = logging.Formatter()


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record's message and traceback in place (idempotent)."""
    if getattr(record, "secrets_masked", False):
        return record
    if record.args:
        try:
            record.msg = record.getMessage()
        except (TypeError, ValueError):
            return record  # logging reports the broken call itself
        record.args = None
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    if record.exc_info and not record.exc_text:
        # A formatter uses exc_text when set: the traceback (and the exceptions chained to
        # it, e.g. a requests error naming a webhook URL) is masked once, here.
        record.exc_text = _formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    record.secrets_masked = True
    return record


class MaskSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def install_masking_record_factory() -> None:
    """Mask every record when it is made, so every handler (the console, a file, an error
    tracker, a handler a Celery worker adds) gets it masked. Installed once, by CoreConfig."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_secrets", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    factory.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
