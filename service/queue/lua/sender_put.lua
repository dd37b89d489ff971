-- Write one sender of the registry. ARGV: name, config (JSON, Python's: stored as given, or "" to
-- keep it), routing fields (JSON: rate, burst, daily_limit, paused, connection; absent ones are
-- kept), mode, unpark_limit.
-- mode: "bootstrap" writes only a sender that does not exist yet (ZAPQ_SENDERS at start-up never
-- undoes what the API or the operator changed); "put" creates or replaces; "patch" changes an
-- existing sender only. Limiter, breaker and today's count survive every write.
-- Also touches: P.SENDER.., P.PARKED.., the parked jobs' P.ARQ_JOB.. (same hash slot).
-- Returns {written, created}. A sender that can send again gets its parked jobs back.
local name, config, fields, mode = ARGV[1], ARGV[2], cjson.decode(ARGV[3]), ARGV[4]
local limit = tonumber(ARGV[5])
local exists = redis.call('HEXISTS', K.SENDERS, name) == 1
if (mode == 'bootstrap' and exists) or (mode == 'patch' and not exists) then
  return cjson.encode({written = false, created = false})
end
if config ~= '' then redis.call('HSET', K.SENDERS, name, config) end
local key = P.SENDER .. name
for _, field in ipairs({'rate', 'burst', 'daily_limit', 'paused', 'connection'}) do
  if fields[field] ~= nil then redis.call('HSET', key, field, tostring(fields[field])) end
end
redis.call('INCR', K.SENDERS_VERSION)
local f = redis.call('HMGET', key, 'paused', 'connection')
if f[1] ~= '1' and f[2] ~= CONNECTION.CLOSE then unpark(name, limit) end
return cjson.encode({written = true, created = not exists})
