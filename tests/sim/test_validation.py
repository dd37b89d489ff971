"""Contract section 2: every listed validation message, exactly as Evolution words it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sim.conftest import Evolution, envelope

OK = {"number": "5511987650000", "text": "oi"}


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ['instance requires property "number"', 'instance requires property "text"']),
        ({**OK, "number": 123}, ["Invalid format"]),
        ({**OK, "number": None}, ["Invalid format"]),
        ({**OK, "text": 5}, ["text is not of a type(s) string"]),
        ({**OK, "delay": "100"}, ["Enter a value in milliseconds"]),
        ({**OK, "delay": 1.5}, ["Enter a value in milliseconds"]),
        ({**OK, "linkPreview": "true"}, ["linkPreview is not of a type(s) boolean"]),
        ({**OK, "mentioned": ["abc"]}, ['"mentioned" must be an array of numeric strings']),
        ({**OK, "mentioned": []}, ["mentioned does not meet minimum length of 1"]),
        ({**OK, "mentioned": ["1", "1"]}, ["mentioned contains duplicate item"]),
        ({**OK, "quoted": {"key": {}}}, ['quoted.key requires property "id"']),
        ({**OK, "quoted": {"key": {"id": ""}}}, ['The "id" cannot be empty']),
        (
            {**OK, "everyOne": "yes"},
            [
                "everyOne is not of a type(s) boolean",
                "everyOne is not one of enum values: true,false",
            ],
        ),
        ({**OK, "text": "  "}, ["Text is required"]),
        ({**OK, "text": "\u00a0\ufeff\n"}, ["Text is required"]),
        ({**OK, "text": ""}, ["Text is required"]),
    ],
)
def test_invalid_bodies(evo: Evolution, body: dict[str, Any], messages: list[str]) -> None:
    response = evo.send(body)
    assert (response.status_code, response.json()) == (400, envelope(400, "Bad Request", messages))


@pytest.mark.parametrize(
    "extra",
    [
        {"delay": -5},
        {"delay": 0},
        {"linkPreview": False},
        {"unknownField": {"anything": True}},
        {"quoted": {"key": {"id": "", "fromMe": True}}},  # minLength only when id is alone
        {"quoted": {"key": {"id": "ABC"}, "message": {"conversation": "x"}}},
        {"mentioned": ["5511987650000"], "everyOne": True},
    ],
)
def test_valid_bodies(evo: Evolution, extra: dict[str, Any]) -> None:
    assert evo.send({**OK, **extra}).status_code == 201


def test_an_empty_number_passes_the_schema_then_fails_the_lookup(evo: Evolution) -> None:
    response = evo.send({**OK, "number": ""})
    assert response.status_code == 400
    assert response.json()["response"]["message"] == [
        {"jid": "@s.whatsapp.net", "exists": False, "number": ""}
    ]


def test_an_array_body_is_validated_as_an_object(evo: Evolution) -> None:
    response = evo.send(["5511987650000", "oi"])
    assert response.json()["response"]["message"] == [
        'instance requires property "number"',
        'instance requires property "text"',
    ]
