"""Contract section 8: POST /message/sendMedia/{instance}."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.sim.conftest import GLOBAL_KEY, Evolution, envelope
from tests.sim_fixture import SimControl

NUMBER = "5511987650000"
# A 1x1 PNG and a few bytes of PDF, as raw base64 (no data: prefix).
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
IMAGE_URL = "https://cdn.example.com/img/logo.png"


def media(evo: Evolution, body: Any, instance: str = "zapq", **kwargs: Any) -> httpx.Response:
    return evo.call("POST", f"/message/sendMedia/{instance}", json=body, **kwargs)


def bad(message: Any) -> dict[str, Any]:
    return envelope(400, "Bad Request", message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, ['instance requires property "number"', 'instance requires property "mediatype"']),
        ({"number": NUMBER}, ['instance requires property "mediatype"']),
        ({"number": 5, "mediatype": "image"}, ["Invalid format"]),
        (
            {"number": NUMBER, "mediatype": "sticker"},
            ["mediatype is not one of enum values: image,document,video,audio"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": 5},
            ["media is not of a type(s) string"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": PNG, "caption": 1},
            ["caption is not of a type(s) string"],
        ),
        (
            {"number": NUMBER, "mediatype": "document", "media": PDF, "fileName": 1},
            ["fileName is not of a type(s) string"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": PNG, "mimetype": 1},
            ["mimetype is not of a type(s) string"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": PNG, "delay": "1"},
            ["Enter a value in milliseconds"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": PNG, "mentioned": []},
            ["mentioned does not meet minimum length of 1"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": PNG, "quoted": {"key": {}}},
            ['quoted.key requires property "id"'],
        ),
        # The controller's checks, after the schema.
        (
            {"number": NUMBER, "mediatype": "document", "media": PDF},
            ["For base64 the file name must be informed."],
        ),
        ({"number": NUMBER, "mediatype": "image"}, ["Owned media must be a url or base64"]),
        (
            {"number": NUMBER, "mediatype": "image", "media": f"data:image/png;base64,{PNG}"},
            ["Owned media must be a url or base64"],
        ),
        (
            {"number": NUMBER, "mediatype": "image", "media": "http://localhost/a.png"},
            ["Owned media must be a url or base64"],
        ),
        (
            {"number": NUMBER, "mediatype": "audio", "media": "not base64!"},
            ["Owned media must be a url or base64"],
        ),
    ],
)
def test_validation_messages(
    sim: SimControl, evo: Evolution, body: dict[str, Any], message: list[str]
) -> None:
    response = media(evo, body)
    assert (response.status_code, response.json()) == (400, bad(message))
    assert sim.stats()["by_status"] == {"400": 1}


def test_guards_come_first(evo: Evolution) -> None:
    assert media(evo, {}, instance="nope", key=None).status_code == 404
    assert media(evo, {}, key="wrong").status_code == 401


def test_image_from_base64(sim: SimControl, evo: Evolution) -> None:
    response = media(evo, {"number": NUMBER, "mediatype": "image", "media": PNG, "caption": "hi"})
    assert response.status_code == 201
    data = response.json()
    assert data["messageType"] == "imageMessage"
    assert (data["status"], data["pushName"], data["key"]["fromMe"]) == ("PENDING", "Você", True)
    fields = data["message"]["imageMessage"]
    assert (fields["mimetype"], fields["fileName"], fields["caption"]) == (
        "image/jpeg",
        "image.jpg",
        "hi",
    )
    assert fields["fileLength"] == {"low": len(base64.b64decode(PNG)), "high": 0, "unsigned": True}
    assert sorted(map(int, fields["fileSha256"])) == list(range(32)), "a Uint8Array as JSON"
    [record] = sim.messages()
    assert record == {
        **{k: record[k] for k in ("key_id", "received_at", "remote_jid")},
        "number": NUMBER,
        "text": "hi",
        "instance": "zapq",
        "kind": "media",
        "mediatype": "image",
        "mimetype": "image/jpeg",
        "fileName": "image.jpg",
        "caption": "hi",
        "media_length": len(PNG),
    }
    assert record["key_id"] == data["key"]["id"]


@pytest.mark.parametrize(
    ("body", "message_type", "mimetype", "file_name"),
    [
        (
            {"mediatype": "document", "media": PDF, "fileName": "boleto.pdf"},
            "document",
            "application/pdf",
            "boleto.pdf",
        ),
        (
            {"mediatype": "document", "media": "https://cdn.example.com/f/boleto.pdf"},
            "document",
            "false",
            "boleto",
        ),
        (
            {"mediatype": "video", "media": "https://cdn.example.com/v.mp4"},
            "video",
            "video/mp4",
            "video.mp4",
        ),
        (
            {"mediatype": "audio", "media": "https://cdn.example.com/a.ogg"},
            "audio",
            "audio/ogg",
            None,
        ),
        (
            {"mediatype": "audio", "media": PDF, "mimetype": "audio/mpeg"},
            "audio",
            "audio/mpeg",
            None,
        ),
        (
            {"mediatype": "image", "media": IMAGE_URL, "fileName": "x.png"},
            "image",
            "image/png",
            "x.png",
        ),
    ],
)
def test_media_types(
    evo: Evolution, body: dict[str, str], message_type: str, mimetype: str, file_name: str | None
) -> None:
    response = media(evo, {"number": NUMBER, **body})
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["messageType"] == f"{message_type}Message"
    fields = data["message"][f"{message_type}Message"]
    assert (fields["mimetype"], fields.get("fileName")) == (mimetype, file_name)
    assert ("gifPlayback" in fields) == (message_type == "video")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"mediatype": "image", "media": PDF},
            "Error: Input buffer contains unsupported image format",
        ),
        (
            {"mediatype": "video", "media": "ftp://cdn.example.com/v.mp4"},
            "AxiosError: Unsupported protocol ftp:",
        ),
        ({"mediatype": "video", "media": "cdn.example.com/v.mp4"}, "TypeError: Invalid URL"),
        (
            {"mediatype": "document", "media": "http://[2001:db8::1]/invoice"},
            "TypeError: Cannot read properties of null (reading '1')",
        ),
    ],
)
def test_what_the_server_fails_on_after_the_controller(
    evo: Evolution, body: dict[str, str], message: str
) -> None:
    response = media(evo, {"number": NUMBER, **body})
    assert response.json() == envelope(500, "Internal Server Error", [message])


def test_upload_failure_knob(sim: SimControl, evo: Evolution) -> None:
    sim.configure(media_upload_fail_rate=1.0)
    response = media(evo, {"number": NUMBER, "mediatype": "image", "media": IMAGE_URL})
    message = ["Error: Media upload failed on all hosts"]
    assert response.json() == envelope(500, "Internal Server Error", message)
    assert evo.send({"number": NUMBER, "text": "oi"}).status_code == 201, "text is unaffected"
    sim.configure(media_upload_fail_rate=0.0)
    sim.instance("zapq", media_upload_fail_rate=1.0)
    assert (
        media(evo, {"number": NUMBER, "mediatype": "image", "media": IMAGE_URL}).status_code == 500
    )


def test_invalid_number_and_5xx_knobs_apply(sim: SimControl, evo: Evolution) -> None:
    body = {"number": NUMBER, "mediatype": "image", "media": IMAGE_URL}
    sim.configure(invalid_numbers=[NUMBER])
    lookup = {"jid": f"{NUMBER}@s.whatsapp.net", "exists": False, "number": NUMBER}
    assert media(evo, body).json() == bad([lookup])
    sim.configure(invalid_numbers=[], fail_5xx_rate=1.0)
    message = "Cannot read properties of undefined (reading 'mediaMessage')"
    assert media(evo, body).json() == envelope(500, "Internal Server Error", message)


def test_a_never_connected_instance_cannot_upload(sim: SimControl, evo: Evolution) -> None:
    create = {"instanceName": "fresh", "integration": "WHATSAPP-BAILEYS"}
    token = evo.call("POST", "/instance/create", json=create).json()["hash"]
    body = {"number": NUMBER, "mediatype": "image", "media": IMAGE_URL}
    response = media(evo, body, instance="fresh", key=token)
    message = ["TypeError: Cannot read properties of undefined (reading 'waUploadToServer')"]
    assert response.json() == envelope(500, "Internal Server Error", message)
    assert GLOBAL_KEY != token


def test_duplicates_compare_the_file_too(sim: SimControl, evo: Evolution) -> None:
    body = {"number": NUMBER, "mediatype": "document", "caption": "sua fatura"}
    media(evo, {**body, "media": PDF, "fileName": "a.pdf"})
    media(evo, {**body, "media": PDF, "fileName": "b.pdf"})
    media(evo, {**body, "media": PDF, "fileName": "b.pdf"})
    assert (sim.stats()["accepted"], sim.stats()["duplicates"]) == (3, 1)
