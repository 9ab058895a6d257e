"""The upload guard of `sketch2face serve`: an API upload is refused before it is read when it is not
multipart or larger than the limit, and counted while it arrives, so a huge or endless body costs the
server at most the limit."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries, part headers and the eye fields around the image
API_PREFIX = "/api/"
MULTIPART = "multipart/form-data"


def too_large(limit: int) -> str:
    return f"upload too large: more than {limit} bytes (the server's --max-upload-bytes)"


class UploadGuard:
    """Refuses an API upload that is not multipart, or whose body is over the limit, before reading it.

    A body without a declared length (chunked) or longer than declared is counted as it
    arrives and cut off at the limit, so a 2 GB upload costs the server at most the limit.
    """

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body_bytes = max_upload_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != MULTIPART:
            sent = f"the request is {content_type!r}" if content_type else "the request has no content type"
            detail = f"expected a {MULTIPART} upload with the sketch in the field 'image'; {sent}"
            await JSONResponse({"detail": detail}, 415)(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await JSONResponse({"detail": too_large(self.max_upload_bytes)}, 413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, too_large(self.max_upload_bytes))  # FastAPI passes it on from the form parser
            return message

        await self.app(scope, counted, send)
