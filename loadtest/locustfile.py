"""Locust entry point: every scenario under loadtest/scenarios/.

Against `zapq dev` (its printed key):
    ZAPQ_LOADTEST_API_KEY=dev-... locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 50 -r 10 -t 60s
The figures in docs/benchmarks.md come from loadtest/bench_pipeline.py, which drives the API with a
lean client in a separate process so that the load generator does not compete for the same core.
"""

from loadtest.scenarios.messages import BatchSender, SingleSender

__all__ = ["BatchSender", "SingleSender"]
