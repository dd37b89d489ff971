-- Replay client callbacks from their dead letters. ARGV: now_ms, id...
-- A replayed event starts over: attempts 0, due now, a fresh CALLBACK_TTL_MS.
-- Also touches: P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {replayed = {id...}} (ids that are not dead letters, or expired, are skipped).
local now = tonumber(ARGV[1])
local done = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = P.CALLBACK .. id
  local endpoint = redis.call('HGET', key, 'endpoint')
  if redis.call('ZREM', K.CALLBACKS_DEAD, id) == 1 and endpoint then
    redis.call('HSET', key, 'attempts', 0)
    redis.call('HDEL', key, 'dead_at', 'next_at')
    redis.call('PEXPIRE', key, C.CALLBACK_TTL_MS)
    redis.call('ZADD', P.CB_ENDPOINT .. endpoint, n2s(now), id)
    redis.call('ZADD', K.CALLBACKS_READY, 'LT', n2s(now), endpoint)
    done[#done + 1] = id
  end
end
if #done > 0 then callback_wake() end
return cjson.encode({replayed = done})
