"""Who calls the API: API keys with a name (the tenant), scopes and quotas (keys.py)."""
