"""The Evolution API v2 simulator: the project's only fake (contract: evolution-api.md).

Used by `zapq dev`, the tests (tests/sim_fixture.py) and the load tests. It answers the routes
zapq uses the way Evolution 2.3.x does (guard order, error envelopes, validation messages,
createJid, the 201 bodies, webhooks) and adds failure knobs and counters under /_sim, globally
and per instance. Users' guide: docs/simulator.md.

    app.py          raw ASGI app: routing, body reading
    wire.py         Request, HttpError (Evolution's error envelope), body-parser's JSON rules
    guards.py       instance exists (404) -> apikey (401)
    validation.py   JSON-schema validation with the npm jsonschema messages
    messages.py     sendText (and the send steps sendMedia shares), whatsappNumbers
    media.py        sendMedia; media_checks.py: isURL, isBase64, mime lookup, image signatures
    instances.py    /instance/* routes; lifecycle.py: the connection state machine
    webhooks.py     /webhook/set and /find; hooks.py: the stored row and what delivery needs
    events.py       the webhook events (envelope, receipts, connection, inbound)
    delivery.py     bounded queue, workers, one HTTP client, Evolution's retries
    tokens.py       the jwt_key Bearer JWT
    jid.py          createJid (the BR 9th digit, MX/AR, groups)
    model.py        Instance, Message, counters; state.py: everything remembered
    config.py       the knobs (global, and per instance)
    control.py      /_sim control API
    server.py       CLI flags and the uvicorn server
"""
