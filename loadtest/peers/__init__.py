"""zapq and its peers side by side: ``python -m loadtest.peers`` (see README.md here).

Nothing is imported here: celery_app, dramatiq_app and sender run in the bench's own virtualenv
(.tools/peers), which has the peers' packages and none of zapq's.
"""
