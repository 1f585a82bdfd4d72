"""Request body size limit: refuse with 413 before reading more than the limit."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so that FastAPI's body parsing passes it on
    (it turns any other exception into 400) and the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"The request body is larger than the {limit} bytes this service accepts."
        )


def _too_large(scope: Scope, limit: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    detail = f"The request body is larger than the {limit} bytes this service accepts."
    if scope["path"].startswith("/api/"):
        body = json.dumps(
            {"type": "about:blank", "title": "Payload Too Large", "status": 413, "detail": detail}
        ).encode()
        return [(b"content-type", b"application/problem+json")], body
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Too large</title>"
        f"<main><h1>Too large</h1><p>{detail}</p></main></html>"
    )
    return [(b"content-type", b"text/html; charset=utf-8")], page.encode()


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        headers, body = _too_large(scope, self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [*headers, (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
