"""The sender pool: the registry of WhatsApp numbers (Evolution instances), a worker's view of it.

Routing, the shared per-sender rate limit and the circuit breakers run inside the queue's scripts
(service/queue/lua/take.lua, senders.lua; the limiter's arithmetic in service/limits/gcra.lua) so
that they cost no round trip of their own and every pod agrees at once.
"""
