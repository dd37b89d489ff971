-- Cancel a message that is queued or scheduled (also while waiting for a retry or parked).
-- ARGV: id, now_ms, retention_ms. Also touches: P.PARKED.., P.ARQ_JOB.., and for its client
-- callback P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {outcome = "cancelled" | "conflict" | "missing", status (on conflict)}.
local id, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key = K.MESSAGE
local f = redis.call('HMGET', key, 'status', 'job', 'pin')
if not f[1] then return cjson.encode({outcome = 'missing'}) end
if f[1] ~= S.QUEUED and f[1] ~= S.SCHEDULED then
  return cjson.encode({outcome = 'conflict', status = f[1]})
end
redis.call('ZREM', K.SCHEDULED, id)
redis.call('ZREM', K.RETRY, id)
if f[2] then
  redis.call('ZREM', K.QUEUE, f[2])
  redis.call('ZREM', K.INFLIGHT, f[2])
  if f[3] then redis.call('ZREM', P.PARKED .. f[3], f[2]) end
  redis.call('DEL', P.ARQ_JOB .. f[2])
end
finish(key, S.CANCELLED, now, retention)
return cjson.encode({outcome = S.CANCELLED})
