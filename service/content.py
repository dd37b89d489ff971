"""Checks on what a message carries, shared by the API and the scheduler (below both).

Media follows Evolution's sendMedia (contract section 8): an http(s) URL that Evolution downloads
when it sends, or raw base64 (a ``data:`` prefix is not base64 to Evolution); a base64 document
needs a file name. zapq asks for https: the file travels to WhatsApp from the URL as given.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from service.queue.models import Media, MediaType

# Longest URL accepted: browsers and servers commonly stop at 2,000-8,000; signed links (S3, GCS)
# fit in 2 KiB.
MAX_URL_CHARS = 2048
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
#: The kinds that show a caption (Evolution sends audio without one).
CAPTIONED = frozenset({MediaType.IMAGE, MediaType.VIDEO, MediaType.DOCUMENT})

Problem = tuple[str, str]


def _url_problems(url: str) -> list[Problem]:
    if len(url) > MAX_URL_CHARS:
        return [("media.media", f"a URL longer than {MAX_URL_CHARS} characters")]
    parts = urlsplit(url)
    if not parts.hostname or " " in url:
        return [("media.media", "not a valid https URL")]
    return []


def _base64_problems(data: str, max_bytes: int) -> list[Problem]:
    compact = "".join(data.split())  # line breaks are allowed in base64 bodies
    if not _BASE64.fullmatch(compact) or len(compact) % 4:
        return [("media.media", "must be an https URL or raw base64 (no data: prefix)")]
    size = len(compact) * 3 // 4
    if size > max_bytes:
        return [
            (
                "media.media",
                f"base64 media is about {size} bytes, more than {max_bytes}: send a URL instead",
            )
        ]
    return []


def media_problems(media: Media, caption: str, max_bytes: int) -> list[Problem]:
    """(field, message) of each problem; fields are relative to the message."""
    value = media.media
    if value.startswith("https://"):
        problems = _url_problems(value)
    elif value.startswith(("http://", "ftp://")) or "://" in value[:16]:
        problems = [("media.media", "a URL must be https")]
    elif value.startswith("data:"):
        problems = [("media.media", "raw base64 without the data: prefix (Evolution refuses it)")]
    else:
        problems = _base64_problems(value, max_bytes)
        if media.mediatype is MediaType.DOCUMENT and not media.file_name:
            problems.append(("media.file_name", "required for a base64 document"))
    if caption and media.mediatype not in CAPTIONED:
        problems.append(("text", f"{media.mediatype} messages carry no caption"))
    return problems
