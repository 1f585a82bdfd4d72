"""Cross-origin request protection and security headers, as pure ASGI middleware.

CSRF: header-based cross-origin protection, the algorithm of Go 1.25's
``http.CrossOriginProtection`` as described by Filippo Valsorda (https://words.filippo.io/csrf/)
and adopted by Datasette. Browsers send ``Sec-Fetch-Site`` on every request; a state-changing
request is refused unless it is ``same-origin`` or ``none`` (typed URL, bookmark). Old browsers
that omit it still send ``Origin`` on cross-origin POSTs, which must then match our host. A
request with neither header does not come from a browser, so cookies cannot have been ridden.
Cookies are also ``SameSite=Lax``. No tokens in forms, nothing to forget on a new page.

Exempt paths are the few that must accept cross-site POSTs by design (RFC 8058 one-click
unsubscribe, sent by mailbox providers with no cookies); they authenticate by signed token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Paths that accept cross-site POSTs by design. Features add theirs here, with the reason.
CSRF_EXEMPT_PREFIXES: list[str] = [
    # RFC 8058 one-click unsubscribe: mailbox providers POST with no cookie (§3.2), some from a
    # web page on their own origin. The token is the authority; the confirmation page's own
    # form is checked by the view (keepfaith.unsubscribe.views) with `origin_refusal`.
    "/unsubscribe/",
]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "manifest-src 'self'",
    ]
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"
)


def _forbidden(scope: Scope, reason: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    if scope["path"].startswith("/api/"):
        body = json.dumps(
            {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": reason}
        ).encode()
        return 403, [(b"content-type", b"application/problem+json")], body
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Request refused</title>"
        f"<main><h1>Request refused</h1><p>{reason}</p><p><a href=/>Home</a></p></main></html>"
    )
    return 403, [(b"content-type", b"text/html; charset=utf-8")], page.encode()


def cross_origin_refusal(
    method: str, headers: Headers, path: str, allowed_origins: Iterable[str]
) -> str | None:
    """Why a request must be refused as cross-origin, or None if it may proceed."""
    if method in SAFE_METHODS or any(path.startswith(p) for p in CSRF_EXEMPT_PREFIXES):
        return None
    return origin_refusal(headers, allowed_origins)


def origin_refusal(headers: Headers, allowed_origins: Iterable[str]) -> str | None:
    """Why a state-changing request must be refused as cross-origin, or None."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return None
        return "This form was submitted from another site, so it was not accepted."
    origin = headers.get("origin")
    if origin is None:
        return None  # not a browser (or one too old to send either header): no ambient cookies
    if origin in allowed_origins:
        return None
    host = headers.get("host", "")
    if urlsplit(origin).netloc == host:
        return None
    return "This form was submitted from another site, so it was not accepted."


class CrossOriginProtection:
    def __init__(self, app: ASGIApp, *, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = frozenset(trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = cross_origin_refusal(
                scope["method"], Headers(scope=scope), scope["path"], self.trusted
            )
            if reason is not None:
                status, headers, body = _forbidden(scope, reason)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers on every response; a route may set its own values first (they are kept)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")
        https = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                # Privacy: never tell another site which of our pages a person came from.
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("permissions-policy", PERMISSIONS_POLICY)
                headers.setdefault("cross-origin-opener-policy", "same-origin")
                headers.setdefault("cross-origin-resource-policy", "same-origin")
                # Pages may show personal data: no shared or browser cache keeps a copy.
                headers.setdefault(
                    "cache-control", "public, max-age=3600" if is_static else "no-store"
                )
                if https:
                    headers.setdefault(
                        "strict-transport-security", "max-age=63072000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
