"""What the CLI and ``wayline serve`` report, and what a report must never show."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit


class CliError(Exception):
    """A failure to report on one line with a non-zero exit code."""


# scheme://user:PASSWORD@host: the password ends at the first '@' (a literal one must be
# percent-encoded in a URL).
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^@\s]*?@")
# libpq's key=value form and URI query parameters: password=... / password='...'
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)


def url_secrets(url: str | None) -> list[str]:
    """The password of a URL, as written and percent-decoded, to mask wherever it shows."""
    if not url:
        return []
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    found = [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(url)]
    if password:
        found += [password, unquote(password)]
    return [secret for secret in found if secret]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URL passwords, ``password=`` values and each of ``secrets`` masked.

    Used on everything printed that may hold a store URL, a server URL or an API
    token, including error messages that come from a database driver.
    """
    ordered = sorted(filter(None, secrets), key=len, reverse=True)
    # The secrets first too: a pattern that masks only the start of one (a password
    # with a quote ends the password= match) would leave the rest unmatched.
    for secret in ordered:
        text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _KV_PASSWORD.sub(r"\1***", text)
    for secret in ordered:
        text = text.replace(secret, "***")
    return text
