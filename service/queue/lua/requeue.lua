-- Requeue dead letters. ARGV: now_ms, expires_at_ms, retention_ms, id...
-- A requeued message starts over: attempts 0, a fresh validity window up to expires_at_ms.
-- Also touches: P.MSG.., P.ARQ_JOB.., P.RECIPIENT.. (same hash slot).
-- Returns {requeued = {id...}} (ids no longer dead are skipped).
local now, expires, retention = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local done = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = P.MSG .. id
  if redis.call('ZREM', K.DEAD, id) == 1 and redis.call('HGET', key, 'status') == S.DEAD then
    redis.call('HSET', key, 'attempts', 0, 'faults', 0, 'expires_at', n2s(expires))
    redis.call('HDEL', key, 'next_attempt_at', 'avoid', 'fault_at')
    history(key, S.QUEUED, now, {requeued = true})
    push_ready(id, redis.call('HGET', key, 'priority'), now, expires, now)
    redis.call('PEXPIRE', key, n2s(expires - now + retention))
    local f = redis.call('HMGET', key, 'to', 'keep')
    if f[2] then index_recipient(f[1], id, now, expires - now + tonumber(f[2])) end
    done[#done + 1] = id
  end
end
if #done > 0 then wake() end
return cjson.encode({requeued = done})
