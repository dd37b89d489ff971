-- Shared by every zapq script (service/queue/scripts.py prepends the generated header: K, P, S,
-- OUTCOME, BAND, FINAL, ... and arq_job_payload). Every key below is built from P (one hash slot).

-- Lua numbers are doubles; format whole numbers without an exponent (ms timestamps have 13 digits).
local function n2s(x) return string.format('%d', x) end

-- A job id is P.JOB .. <message id> .. '.' .. <generation>.
local function message_id(job)
  return string.match(string.sub(job, #P.JOB + 1), '^(.*)%.%d+$')
end

-- The hash fields (name, value, ...) that record a move to `status` at `now` after the history
-- `h` (decoded; {} for a new message): the history with its new entry, the status, its time.
local function history_fields(h, status, now, extra)
  local entry = {status, now}
  if extra then entry[3] = extra end
  h[#h + 1] = entry
  return 'history', cjson.encode(h), 'status', status, status .. '_at', n2s(now)
end

local function history(key, status, now, extra)
  local raw = redis.call('HGET', key, 'history')
  redis.call('HSET', key, history_fields(raw and cjson.decode(raw) or {}, status, now, extra))
end

-- At most this many wake tokens wait in K.WAKE: each wakes one idle worker, and a worker that
-- finds more work than it can take passes one on, so a burst wakes every idle worker in a chain.
local WAKE_TOKENS = 8

local function wake()
  if redis.call('LLEN', K.WAKE) < WAKE_TOKENS then redis.call('RPUSH', K.WAKE, 1) end
end

-- Something became due later (a scheduled message, a retry): the promoter, asleep until the next
-- due time it knew of, looks again. One token is enough: it recomputes its next wake-up.
local function wake_promoter()
  if redis.call('LLEN', K.PROMOTE_WAKE) == 0 then redis.call('RPUSH', K.PROMOTE_WAKE, 1) end
end

-- The id of message `id`'s job number `gen` (the message's 'gen' field counts its jobs).
local function job_id(id, gen)
  return P.JOB .. id .. '.' .. gen
end

-- ZADD of many members: `pairs` is {score, member, ...}, added a chunk at a time (unpack has a
-- limit: Lua's C stack).
local function zadd_many(key, pairs)
  for first = 1, #pairs, 1000 do
    redis.call('ZADD', key, unpack(pairs, first, math.min(first + 999, #pairs)))
  end
end

-- Job `job` on the arq ready queue: arq's `payload` (arq_job_payload) and the queue entry, added
-- now or, with `pending`, appended to it (score, member, ...) for one zadd_many of many jobs.
local function queue_job(job, payload, priority, ready_ms, expires_ms, now, pending)
  local ttl = math.max(expires_ms - now, 0) + C.JOB_EXTRA_TTL_MS
  redis.call('SET', P.ARQ_JOB .. job, payload, 'PX', n2s(ttl))
  local score = n2s(ready_ms + BAND[priority])
  if pending then
    pending[#pending + 1] = score
    pending[#pending + 1] = job
  else
    redis.call('ZADD', K.QUEUE, score, job)
  end
end

-- Put a message on the arq ready queue as a new job: a fresh job id per enqueue means a late arq
-- cleanup of the previous job can never delete this one.
local function push_ready(id, priority, ready_ms, expires_ms, now)
  local key = P.MSG .. id
  local job = job_id(id, redis.call('HINCRBY', key, 'gen', 1))
  redis.call('HSET', key, 'job', job, 'ready_at', n2s(ready_ms))
  queue_job(job, arq_job_payload(id, now), priority, ready_ms, expires_ms, now)
  return job
end

-- The run of a job is over and its outcome recorded: drop the job (saves the worker a round trip).
local function end_job(job)
  redis.call('ZREM', K.INFLIGHT, job)
  redis.call('DEL', P.ARQ_JOB .. job, P.ARQ_RETRY .. job)
end

-- Put a taken job back in the ready queue at its message's priority and readiness time.
-- Returns 1 when requeued, 0 when its message no longer wants it (finished, cancelled, replaced).
local function back_to_queue(job)
  local f = redis.call('HMGET', P.MSG .. message_id(job), 'job', 'priority', 'ready_at', 'status')
  if f[1] ~= job or FINAL[f[4]] or redis.call('EXISTS', P.ARQ_JOB .. job) == 0 then
    redis.call('DEL', P.ARQ_JOB .. job, P.ARQ_RETRY .. job)
    return 0
  end
  redis.call('ZADD', K.QUEUE, n2s(tonumber(f[3]) + BAND[f[2]]), job)
  return 1
end

-- Client callbacks (service/queue/callbacks.py): an event is queued in the same call as the state
-- change it reports, so none is lost between the two. One hash per event (P.CALLBACK .. id), its
-- id in its endpoint's zset (P.CB_ENDPOINT .. endpoint, by due time; endpoint: the URL's SHA-1,
-- 16 hex) and the endpoint in K.CALLBACKS_READY at its earliest due event.
local function callback_wake()
  if redis.call('LLEN', K.CALLBACKS_WAKE) < WAKE_TOKENS then
    redis.call('RPUSH', K.CALLBACKS_WAKE, 1)
  end
end

-- Queue event `id` of type `kind` for `url`, due now; `fields`: more hash fields, name, value, ...
local function new_callback(id, kind, url, now, fields)
  local endpoint = string.sub(redis.sha1hex(url), 1, 16)
  local key = P.CALLBACK .. id
  redis.call('HSET', key, 'id', id, 'type', kind, 'url', url, 'endpoint', endpoint,
    'at', n2s(now), 'attempts', 0, unpack(fields))
  redis.call('PEXPIRE', key, C.CALLBACK_TTL_MS)
  redis.call('ZADD', P.CB_ENDPOINT .. endpoint, n2s(now), id)
  -- LT: an endpoint already waiting keeps its earlier due time.
  redis.call('ZADD', K.CALLBACKS_READY, 'LT', n2s(now), endpoint)
  callback_wake()
end

-- An endpoint's place in K.CALLBACKS_READY: its earliest waiting event (due time), or none.
-- Returns that due time.
local function endpoint_ready(endpoint)
  local head = redis.call('ZRANGE', P.CB_ENDPOINT .. endpoint, 0, 0, 'WITHSCORES')
  if head[2] then
    redis.call('ZADD', K.CALLBACKS_READY, head[2], endpoint)
    return tonumber(head[2])
  end
  redis.call('ZREM', K.CALLBACKS_READY, endpoint)
  return nil
end

-- One delivery to `endpoint` is over (or its lease ran out): a slot of its cap is free.
local function callback_release(endpoint)
  if redis.call('HINCRBY', K.CALLBACKS_BUSY, endpoint, -1) <= 0 then
    redis.call('HDEL', K.CALLBACKS_BUSY, endpoint)
  end
end

-- The callback reporting that message `key` is now `status`, if it has a callback URL and the
-- status has an event. Event ids are the message id and a counter: unique, and stable across
-- the event's delivery attempts (the receiver's idempotency key).
local function message_callback(key, status, now)
  local url = redis.call('HGET', key, 'callback_url')
  if not url or url == '' or not EVENT_OF[status] then return end
  local id = redis.call('HGET', key, 'id')
  local n = redis.call('HINCRBY', key, 'callbacks', 1)
  new_callback(id .. '.' .. n, EVENT_OF[status], url, now, {'message', id, 'status', status})
end

-- A message reached a final status: record it, shorten its record's life to the retention, and
-- queue its callback. With api.drop_text_when_final the enqueue left a lean payload (no text, no
-- media): it replaces the payload now.
local function finish(key, status, now, retention, extra)
  history(key, status, now, extra)
  local lean = redis.call('HGET', key, 'lean')
  if lean then redis.call('HSET', key, 'payload', lean); redis.call('HDEL', key, 'lean') end
  redis.call('PEXPIRE', key, n2s(retention))
  message_callback(key, status, now)
end

-- A number's index (P.RECIPIENT): its message ids, so that erasure finds them without a scan.
-- It lives as long as the longest-lived of them may (ttl_ms from now).
local function index_recipient(to, id, now, ttl_ms)
  local index = P.RECIPIENT .. to
  redis.call('ZADD', index, n2s(now), id)
  if redis.call('PTTL', index) < ttl_ms then redis.call('PEXPIRE', index, n2s(ttl_ms)) end
end
