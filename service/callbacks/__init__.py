"""The delivery lifecycle's edges: Evolution's webhooks in (evolution.py: authentication, events,
opt-out keywords) and signed client callbacks out (dispatcher.py, signing.py, addresses.py,
body.py). Their state lives in Redis behind service/queue (receipts.py, callbacks.py)."""
