"""The reference design's scale scenarios (1,000 / 10,000 / 100,000 messages) through the API,
drained by workers the emulated HPA (loadtest/autoscaler) starts and stops. Run with
`python -m loadtest.scale --scenario 1k|10k|100k|all [--rate-scale 0.2]` (loadtest/README.md)."""
