"""Basic-auth credentials in the format nginx reads (any proxy or gateway, on any platform)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def htpasswd_line(user: str, password: str) -> str:
    """An nginx htpasswd entry in salted SHA-1 ({SSHA}); the salt is derived so the file is stable."""
    salt = hmac.new(password.encode(), user.encode(), hashlib.sha256).digest()[:8]
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"
