-- Erase one number's data (LGPD): each message record of it (found through its index, no scan),
-- its job and queue entries, its idempotency key, the number's sticky sender and the index. The
-- suppression list is left alone: a number that opted out stays out.
-- ARGV: phone (E.164 digits). Also touches: P.RECIPIENT.., P.MSG.., P.IDEM.., P.STICKY..,
-- P.PARKED.., P.ARQ_JOB.., P.ARQ_RETRY.. (same hash slot).
-- Returns {messages =, idempotency_keys =, sticky_sender = bool, suppressed = bool}.
local phone = ARGV[1]
local index = P.RECIPIENT .. phone
local messages, idem = 0, 0

local function drop_job(job, pin)
  redis.call('ZREM', K.QUEUE, job)
  redis.call('ZREM', K.INFLIGHT, job)
  if pin then redis.call('ZREM', P.PARKED .. pin, job) end
  redis.call('DEL', P.ARQ_JOB .. job, P.ARQ_RETRY .. job)
end

-- Its idempotency key, unless the key now names another message.
local function drop_idem(name, id)
  local value = redis.call('GET', name)
  if value and string.sub(value, 1, #id + 1) == id .. '|' then
    redis.call('DEL', name)
    idem = idem + 1
  end
end

for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  local key = P.MSG .. id
  local f = redis.call('HMGET', key, 'job', 'pin', 'idem')
  if f[1] then drop_job(f[1], f[2]) end
  if f[3] then drop_idem(f[3], id) end
  redis.call('ZREM', K.SCHEDULED, id)
  redis.call('ZREM', K.RETRY, id)
  redis.call('ZREM', K.DEAD, id)
  messages = messages + redis.call('DEL', key)
end
redis.call('DEL', index)
local sticky = redis.call('DEL', P.STICKY .. phone) == 1
local suppressed = redis.call('ZSCORE', K.SUPPRESSED, phone) ~= false
return cjson.encode({
  messages = messages, idempotency_keys = idem, sticky_sender = sticky, suppressed = suppressed
})
