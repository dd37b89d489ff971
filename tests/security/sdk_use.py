"""Run by test_contract.py with a client generated from /openapi.json on PYTHONPATH:
argv = base URL, a sender+reader key, a reader-only key. Prints one line per step."""

from __future__ import annotations

import sys

from zapq_client import AuthenticatedClient  # type: ignore[import-not-found]
from zapq_client.api.messages import create_message, get_message  # type: ignore[import-not-found]
from zapq_client.models import ErrorOut, MessageOut, TextMessageIn  # type: ignore[import-not-found]

url, sender_key, reader_key = sys.argv[1:4]
client = AuthenticatedClient(base_url=url, token=sender_key)
body = TextMessageIn(to="+55 11 98765-4321", text="Sua fatura vence amanhã")
sent = create_message.sync(client=client, body=body)
assert isinstance(sent, MessageOut), sent
print("sent", sent.status)
read = get_message.sync(client=client, message_id=sent.id)
assert isinstance(read, MessageOut) and read.id == sent.id
print("read", read.status)
reader = AuthenticatedClient(base_url=url, token=reader_key)
refused = create_message.sync_detailed(client=reader, body=body)
assert isinstance(refused.parsed, ErrorOut), refused
print("refused", int(refused.status_code), refused.parsed.error)
