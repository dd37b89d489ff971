"""Locust entry point: every scenario under loadtest/scenarios/.

Against `zapq dev` (its printed key):
    ZAPQ_LOADTEST_API_KEY=dev-... .venv/bin/locust -f loadtest/locustfile.py \\
        --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 60s
Besides the API routes, the stats show "E2E enqueue->sent": the time from a message's creation to
its `sent` transition, for one message in ZAPQ_LOADTEST_E2E_SAMPLE_EVERY (10). On 2 cores run
locust with --processes 2 or on another machine, so that the generator is not the bottleneck;
tests/loadtest/test_locust.py runs this file for 5 s against a real stack.
"""

from loadtest.scenarios.messages import BatchSender, SingleSender

__all__ = ["BatchSender", "SingleSender"]
