"""POST /message/sendMedia/{instance} (contract section 8), JSON bodies only (no multipart).

Read from Evolution 2.3.6: the route validates ``mediaMessageSchema``; the controller then
rejects a base64 ``document`` without ``fileName`` and a ``media`` that is neither isURL nor
isBase64; ``prepareMediaMessage`` (before the number lookup) decodes an image with sharp, uploads
the file over the socket (500 on failure, the error's text in a list), names a document after
its URL, and resolves the mimetype from ``fileName``; ``sendMessageWithTyping`` does the rest, as
for text. The simulator never fetches a URL: an http(s) one is taken as fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from typing import Any

from service.sim.media_checks import is_base64, is_image, is_url, mime_lookup
from service.sim.messages import CONNECTION_CLOSED, counted, deliver, draw_and_wait, validated
from service.sim.model import Instance, Message
from service.sim.state import SimState
from service.sim.validation import MEDIA_SCHEMA
from service.sim.wire import HttpError, Request, Response

_TYPE_ERROR = "Cannot read properties of undefined (reading 'mediaMessage')"
_NO_SOCKET = "TypeError: Cannot read properties of undefined (reading 'waUploadToServer')"
_UPLOAD_FAILED = "Error: Media upload failed on all hosts"
_NOT_AN_IMAGE = "Error: Input buffer contains unsupported image format"
_DOCUMENT_NAME = re.compile(r".*/(.+?)\.")  # prepareMediaMessage's name for a URL document
_DEFAULT_NAMES = {"image": "image.jpg", "video": "video.mp4"}


async def send_media(state: SimState, request: Request, name: str) -> Response:
    return await counted(state, request, name, _send_media)


async def _send_media(state: SimState, request: Request, name: str, generation: int) -> Response:
    received_at = time.time()
    instance, body = validated(state, request, name, MEDIA_SCHEMA.errors)
    _controller_checks(body)
    knobs = instance.knobs
    draw = await draw_and_wait(state, knobs)
    if draw < knobs.fail_5xx_rate:
        raise HttpError(500, _TYPE_ERROR)
    draw -= knobs.fail_5xx_rate
    fields = _prepared(state, instance, body, uploaded=draw >= knobs.media_upload_fail_rate)
    draw -= knobs.media_upload_fail_rate
    record = {
        "mediatype": body["mediatype"],
        "mimetype": fields["mimetype"],
        "fileName": fields.get("fileName"),
        "caption": body.get("caption"),
        "media_length": len(body["media"]),
    }
    message = Message(body["number"], body.get("caption") or "", "", "", received_at, name, record)
    content = {f"{body['mediatype']}Message": fields}
    return await deliver(state, instance, body, generation, draw, message, content)


def _controller_checks(body: dict[str, Any]) -> None:
    """SendMessageController.sendMedia, before the instance's mediaMessage runs."""
    media = body.get("media")
    base64_media = is_base64(media)
    if base64_media and not body.get("fileName") and body["mediatype"] == "document":
        raise HttpError(400, ["For base64 the file name must be informed."])
    if not (base64_media or is_url(media)):
        raise HttpError(400, ["Owned media must be a url or base64"])


def _prepared(
    state: SimState, instance: Instance, body: dict[str, Any], *, uploaded: bool
) -> dict[str, Any]:
    """prepareMediaMessage: the uploaded media message's fields, or its 500 (a list)."""
    media: str = body["media"]
    mediatype: str = body["mediatype"]
    url = is_url(media)
    if url and not media.lower().startswith(("http://", "https://")):
        raise HttpError(500, [_fetch_error(media)])
    data = b"" if url else _decoded(media)
    if mediatype == "image" and not url and not is_image(data):
        raise HttpError(500, [_NOT_AN_IMAGE])
    if instance.state != "open":
        # The upload needs the socket: none yet is a TypeError, a dropped one Boom's error. A
        # half-dead one (connection_closed) still uploads, over the cached media connection,
        # and fails at the send, as text does.
        raise HttpError(500, [CONNECTION_CLOSED if instance.ever_open else _NO_SOCKET])
    if not uploaded:
        raise HttpError(500, [_UPLOAD_FAILED])
    file_name = body.get("fileName") or _DEFAULT_NAMES.get(mediatype)
    if mediatype == "document" and not file_name:
        match = _DOCUMENT_NAME.search(media)
        if match is None:
            raise HttpError(500, ["TypeError: Cannot read properties of null (reading '1')"])
        file_name = match[1]
    return _message_fields(state, body, file_name, _mimetype(body, file_name, url), data or media)


def _decoded(media: str) -> bytes:
    try:
        return base64.b64decode(media, validate=True)
    except binascii.Error:  # pragma: no cover - is_base64 let only valid base64 through
        return b""


def _fetch_error(media: str) -> str:
    """What axios throws for a URL that isURL accepts but Node cannot fetch."""
    if "://" in media:
        return f"AxiosError: Unsupported protocol {media.split('://')[0].lower()}:"
    return "TypeError: Invalid URL"


def _mimetype(body: dict[str, Any], file_name: str | None, url: bool) -> str:
    """A given fileName decides (mime-types' false becomes the string "false", as in
    Evolution's ``lookup(fileName).toString()``); else the given mimetype; else, for a URL, the
    Content-Type a fetch would answer, here guessed from the URL's path; else false, which
    protobuf turns into "false" too."""
    if file_name:
        found = mime_lookup(file_name)
        if found == "application/mp4":
            return "video/mp4"
        return found or "false"
    if body.get("mimetype"):
        return str(body["mimetype"])
    if not url:
        return "false"
    return mime_lookup(body["media"].split("?")[0]) or "application/octet-stream"


def _bytes(data: bytes) -> dict[str, int]:
    """A Uint8Array as JSON.stringify writes it (deserializeMessageBuffers makes them so)."""
    return {str(index): byte for index, byte in enumerate(data)}


def _message_fields(
    state: SimState, body: dict[str, Any], file_name: str | None, mimetype: str, data: bytes | str
) -> dict[str, Any]:
    """The fields Baileys' prepareWAMessageMedia and Evolution set, in Baileys' order."""
    raw = data.encode() if isinstance(data, str) else data
    media_key = state.rng.getrandbits(256).to_bytes(32, "big")
    file_sha = hashlib.sha256(raw).digest()
    path = f"/v/t62.7118-24/{int.from_bytes(file_sha[:6], 'big')}_n.enc"
    fields: dict[str, Any] = {
        "url": f"https://mmg.whatsapp.net{path}?ccb=11-4&mms3=true",
        "mimetype": mimetype,
        "fileSha256": _bytes(file_sha),
        "fileLength": {"low": len(raw), "high": 0, "unsigned": True},
        "mediaKey": _bytes(media_key),
        "fileEncSha256": _bytes(hashlib.sha256(media_key + file_sha).digest()),
        "directPath": path,
        "mediaKeyTimestamp": {"low": int(time.time()), "high": 0, "unsigned": False},
    }
    if "caption" in body:
        fields["caption"] = body["caption"]
    if file_name:
        fields["fileName"] = file_name
    if body["mediatype"] == "video":
        fields["gifPlayback"] = False
    return fields
