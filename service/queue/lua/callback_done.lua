-- Record one delivery attempt of a client callback.
-- ARGV: id, attempt (the holder's: its lease), now_ms, outcome (delivered | retry | dead),
--   next_at_ms (retry), error, dead_retention_ms
-- Also touches: P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {recorded}: false when the attempt's lease had run out and the event is another
-- dispatcher's now (their outcome counts; a delivered event is not delivered again, unless the
-- other attempt is already on its way: at least once).
local id, attempt, now, outcome = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local next_at, err, dead_retention = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local key = P.CALLBACK .. id
local f = redis.call('HMGET', key, 'endpoint', 'attempts')
local endpoint = f[1]
if not endpoint then return cjson.encode({recorded = false}) end
-- The lease is this attempt's while the event is leased and no later attempt claimed it.
local held = tonumber(f[2]) == attempt and redis.call('ZREM', K.CALLBACKS_LEASED, id) == 1
if held then
  callback_release(endpoint)
elseif outcome ~= ATTEMPT.DELIVERED or redis.call('ZSCORE', K.CALLBACKS_LEASED, id) then
  return cjson.encode({recorded = false})
end

if outcome == ATTEMPT.DELIVERED then
  redis.call('ZREM', P.CB_ENDPOINT .. endpoint, id) -- when a lost lease had put it back
  redis.call('DEL', key)
elseif outcome == ATTEMPT.RETRY then
  redis.call('HSET', key, 'last_error', err, 'next_at', n2s(next_at))
  redis.call('PEXPIRE', key, n2s(next_at - now + C.CALLBACK_TTL_MS))
  redis.call('ZADD', P.CB_ENDPOINT .. endpoint, n2s(next_at), id)
else
  redis.call('HSET', key, 'last_error', err, 'dead_at', n2s(now))
  redis.call('HDEL', key, 'next_at')
  redis.call('PEXPIRE', key, n2s(dead_retention))
  redis.call('ZADD', K.CALLBACKS_DEAD, n2s(now), id)
  redis.call('ZREMRANGEBYSCORE', K.CALLBACKS_DEAD, '-inf', n2s(now - dead_retention))
end
-- The endpoint may have been at its cap (out of K.CALLBACKS_READY): back at its earliest event,
-- and a dispatcher woken if that is due.
local head = endpoint_ready(endpoint)
if head and head <= now then callback_wake() end
return cjson.encode({recorded = true})
