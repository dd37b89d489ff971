"""The checks sendMedia's ``media`` goes through, ported from the libraries Evolution 2.3.6 uses.

- ``is_url``: validator.js 13.15.15 ``isURL`` with its defaults (class-validator's isURL):
  protocol optional (http, https, ftp), a host with a top-level domain or an IP address, so
  ``http://localhost/x.png`` is NOT a URL while ``example.com/x.png`` is.
- ``is_base64``: validator.js ``isBase64`` (padded, standard alphabet, length a multiple of 4;
  the empty string passes). A ``data:...;base64,`` prefix fails it.
- ``mime_lookup``: mime-types 2.1.35 ``lookup`` (mime-db 1.52.0) for the extensions a WhatsApp
  sender uses; other extensions fall back to Python's built-in table (not the system's).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import posixpath
import re

_BASE64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"
)
_URL_FORBIDDEN = re.compile(r"[\s<>]")
_TLD = re.compile(
    r"([a-z\u00a1-\u00a8\u00aa-\ud7ff\uf900-\ufdcf\ufdf0-\uffef]{2,}|xn[a-z0-9-]{2,})", re.I
)
_LABEL = re.compile(r"[a-z\u00a1-\uffff0-9-]+", re.I)
_FULL_WIDTH = re.compile(r"[\uff01-\uff5e]")
_WRAPPED_IPV6 = re.compile(r"\[([^\]]+)\](?::([0-9]+))?")
_PROTOCOLS = ("http", "https", "ftp")
_MAX_URL_LENGTH = 2084  # validator.js' max_allowed_length (IE's URL limit)


def is_base64(value: object) -> bool:
    return isinstance(value, str) and (value == "" or _BASE64.fullmatch(value) is not None)


def is_url(value: object) -> bool:
    """validator.js isURL(value) with default options."""
    if not isinstance(value, str) or not value or _URL_FORBIDDEN.search(value):
        return False
    if value.startswith("mailto:") or len(value) > _MAX_URL_LENGTH:
        return False
    url = value.split("#")[0].split("?")[0]
    protocol, separator, rest = url.partition("://")
    if separator:
        if protocol.lower() not in _PROTOCOLS:
            return False
        url = rest
    elif url.startswith("//"):
        return False  # protocol-relative URLs are not allowed
    authority = url.split("/")[0]
    return bool(authority) and _valid_authority(authority)


def _valid_authority(authority: str) -> bool:
    auth, at, hostname = authority.partition("@")
    if not at:
        hostname = authority
    elif not _valid_auth(auth):
        return False
    wrapped = _WRAPPED_IPV6.fullmatch(hostname)
    if wrapped:
        host, port = "", wrapped[2]
    else:
        host, _, port = hostname.partition(":")
    if port and (not port.isdigit() or not 0 < int(port) <= 65535):
        return False
    if wrapped:
        return _is_ip(wrapped[1], version=6)
    return _is_ip(host) or _is_fqdn(host)


def _valid_auth(auth: str) -> bool:
    if auth == "" or auth.count(":") > 1:
        return False
    user, _, password = auth.partition(":")
    return not (user == "" and password == "")


def _is_ip(host: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return version is None or address.version == version


def _is_fqdn(host: str) -> bool:
    """validator.js isFQDN with require_tld, no underscores, no trailing dot."""
    parts = host.split(".")
    tld = parts[-1]
    if len(parts) < 2 or not _TLD.fullmatch(tld):
        return False
    return all(
        len(part) <= 63
        and _LABEL.fullmatch(part)
        and not _FULL_WIDTH.search(part)
        and not part.startswith("-")
        and not part.endswith("-")
        for part in parts
    )


#: mime-types 2.1.35 lookups (read from it under Node) for common WhatsApp attachments.
_MIME_DB = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "3gp": "video/3gpp",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "aac": "audio/x-aac",
    "amr": "audio/amr",
    "wav": "audio/wave",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "zip": "application/zip",
    "json": "application/json",
    "xml": "application/xml",
    "vcf": "text/x-vcard",
    "gz": "application/gzip",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "rtf": "application/rtf",
    "epub": "application/epub+zip",
    "apk": "application/vnd.android.package-archive",
    "html": "text/html",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "svg": "image/svg+xml",
    "heic": "image/heic",
    "avif": "image/avif",
    "m4v": "video/x-m4v",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mpeg": "video/mpeg",
    "flac": "audio/x-flac",
    "weba": "audio/webm",
}
# Python's built-in table only: the system's mime.types would differ from machine to machine.
_BUILT_IN = mimetypes.MimeTypes()


def mime_lookup(file_name: str) -> str | None:
    """``mimeTypes.lookup(fileName)``: by extension, None (JavaScript's false) if unknown."""
    extension = posixpath.splitext(posixpath.basename("x." + file_name))[1][1:].lower()
    if not extension:
        return None
    known = _MIME_DB.get(extension)
    return known or _BUILT_IN.types_map[True].get("." + extension)


#: What sharp can decode, by the first bytes of the file.
_IMAGE_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"<svg",
    b"<?xml",
)


def is_image(data: bytes) -> bool:
    """Whether sharp would decode these bytes (JPEG, PNG, GIF, TIFF, SVG, WebP, AVIF/HEIF)."""
    if data.startswith(_IMAGE_SIGNATURES):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"heic", b"heix", b"mif1")
