"""Access to the dashboard: with CREDITFLOW_API_TOKEN set, every request needs the token.

Scripts send it as `Authorization: Bearer TOKEN`; people type it once into the login form,
which sets a session cookie holding an HMAC of the token (never the token itself). Both are
compared in constant time. `/healthz`, the login form and the static files stay open. Without
a token everything is open, which `creditflow up` only allows on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "SESSION_COOKIE",
    "SecurityHeaders",
    "TokenGate",
    "safe_next",
    "session_value",
    "token_matches",
]

SESSION_COOKIE = "creditflow_session"
OPEN_PATHS = ("/healthz", "/login", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
# Paths answered with JSON (401) rather than sent to the login form.
MACHINE_PREFIXES = ("/api", "/metrics", "/asyncapi")


def session_value(token: str) -> str:
    """What the session cookie holds: an HMAC of the token, so the cookie is not the token."""
    return hmac.new(token.encode(), b"creditflow-session-v1", hashlib.sha256).hexdigest()


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


class TokenGate:
    """ASGI middleware: refuses every request without the token (when one is configured)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response: Response
        if path.startswith(MACHINE_PREFIXES):
            response = JSONResponse(
                {"error": "authentication required: send Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            here = path + (f"?{query}" if query else "")
            response = RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        assert self.token is not None and self.session is not None
        headers = Headers(scope=scope)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token_matches(credentials.strip(), self.token):
            return True
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        return token_matches(cookie, self.session)


# Pages and API answers may load nothing from elsewhere; the AsyncAPI viewer and FastAPI's
# API docs load their viewers from a CDN, so they go without.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'"
)
_NO_CSP = ("/asyncapi", "/api/docs")


class SecurityHeaders:
    """ASGI middleware: headers that keep the page from being framed, sniffed or made to run
    anything but its own script, should a value ever slip through unescaped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not scope["path"].startswith(_NO_CSP)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if csp:
                    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
