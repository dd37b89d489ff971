from service.limits.token_bucket import TokenBucket

__all__ = ["TokenBucket"]
