-- ARGV: id, now_ms, retention_ms. Returns {"cancelled"} | {"conflict", status} | {"missing"}
local id, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key = MSG .. id
local f = redis.call('HMGET', key, 'status', 'job')
if not f[1] then return {'missing'} end
if f[1] ~= 'queued' and f[1] ~= 'scheduled' then return {'conflict', f[1]} end
redis.call('ZREM', SCHEDULED, id)
redis.call('ZREM', RETRY, id)
if f[2] then
  redis.call('ZREM', QUEUE, f[2])
  redis.call('ZREM', INFLIGHT, f[2])
  redis.call('DEL', ARQ_JOB .. f[2])
end
history(key, 'cancelled', now)
redis.call('PEXPIRE', key, n2s(retention))
return {'cancelled'}
