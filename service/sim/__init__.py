"""The Evolution API v2 simulator: the project's only fake (contract: evolution-api.md).

Used by `zapq dev`, the tests (tests/sim_fixture.py) and the load tests. It answers the routes
zapq uses the way Evolution 2.3.x does (guard order, error envelopes, validation messages,
createJid, the 201 body) and adds failure knobs and counters under /_sim.

    app.py          raw ASGI app: routing, body reading
    wire.py         Request, HttpError (Evolution's error envelope), body-parser's JSON rules
    guards.py       instance exists (404) -> apikey (401)
    validation.py   JSON-schema validation with the npm jsonschema messages
    messages.py     sendText, whatsappNumbers
    instances.py    /instance/* routes
    jid.py          createJid (the BR 9th digit, MX/AR, groups)
    state.py        instances, counters, accepted messages
    config.py       the knobs
    control.py      /_sim control API
    server.py       CLI flags and the uvicorn server
"""
