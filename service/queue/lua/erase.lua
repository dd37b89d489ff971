-- Erase one number's data (LGPD): each message record of it (found through its index, no scan),
-- its job and queue entries, its idempotency key, its provider id's index entry and its client
-- callbacks not yet delivered; the customer's own messages and opt-out waiting as callbacks
-- (indexed as "cb:<event id>"); the number's sticky sender and the index. The suppression list is
-- left alone: a number that opted out stays out. A callback a dispatcher is delivering right now
-- (leased) goes as it is: its record is gone, so nothing of the number is left once it ends.
-- ARGV: phone (E.164 digits). Also touches: P.RECIPIENT.., P.MSG.., P.IDEM.., P.STICKY..,
-- P.PARKED.., P.PROVIDER.., P.CALLBACK.., P.CB_ENDPOINT.., P.ARQ_JOB.., P.ARQ_RETRY.. (same slot).
-- Returns {messages =, idempotency_keys =, callback_events =, sticky_sender = bool,
-- suppressed = bool}.
local phone = ARGV[1]
local index = P.RECIPIENT .. phone
local messages, idem, events = 0, 0, 0

local function drop_callback(event)
  if redis.call('ZSCORE', K.CALLBACKS_LEASED, event) then return end
  local key = P.CALLBACK .. event
  local endpoint = redis.call('HGET', key, 'endpoint')
  if endpoint then
    redis.call('ZREM', P.CB_ENDPOINT .. endpoint, event)
    endpoint_ready(endpoint)
  end
  redis.call('ZREM', K.CALLBACKS_DEAD, event)
  events = events + redis.call('DEL', key)
end

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

local function drop_message(id)
  local key = P.MSG .. id
  local f = redis.call('HMGET', key, 'job', 'pin', 'idem', 'provider_id', 'callbacks')
  if f[1] then drop_job(f[1], f[2]) end
  if f[3] then drop_idem(f[3], id) end
  if f[4] then redis.call('DEL', P.PROVIDER .. f[4]) end
  for n = 1, tonumber(f[5]) or 0 do drop_callback(id .. '.' .. n) end
  redis.call('ZREM', K.SCHEDULED, id)
  redis.call('ZREM', K.RETRY, id)
  redis.call('ZREM', K.DEAD, id)
  messages = messages + redis.call('DEL', key)
end

for _, member in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  if string.sub(member, 1, 3) == 'cb:' then
    drop_callback(string.sub(member, 4))
  else
    drop_message(member)
  end
end
redis.call('DEL', index)
local sticky = redis.call('DEL', P.STICKY .. phone) == 1
local suppressed = redis.call('ZSCORE', K.SUPPRESSED, phone) ~= false
return cjson.encode({
  messages = messages, idempotency_keys = idem, callback_events = events, sticky_sender = sticky,
  suppressed = suppressed,
})
