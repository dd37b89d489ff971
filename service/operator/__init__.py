"""`zapq operator`: kopf handlers that manage zapq's sender pool from WhatsAppInstance resources
(docs/operator.md; the CRD: helm/zapq/crds/).

    main.py       kopf's settings (all of them) and the process: Redis, the Kubernetes client
    handlers.py   the kopf handlers, one line each, on a registry of their own
    reconcile.py  what they do: setup, observe, changed, removed
    observe.py    one look at a session: phase, QR code, the sender's routing
    sender.py     the registry kept level-triggered (writes only differences)
    status.py     status and conditions, written only when they change
    outcomes.py   failures -> condition + kopf.TemporaryError / PermanentError
    resource.py   the resource's names and its spec, parsed as the CRD defines it
    kube.py       the few Kubernetes calls kopf does not make (Secrets)

Imports flow one way: operator -> senders / evolution / queue -> settings.
"""
