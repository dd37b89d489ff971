-- Shared by every zapq script (prepended by service/queue/scripts.py). Key names mirror keys.py.
-- zapq assumes one Redis node (or a primary with replicas): scripts build keys from ids at run time.
local MSG = 'zapq:msg:'
local QUEUE = 'zapq:queue'
local SCHEDULED = 'zapq:scheduled'
local RETRY = 'zapq:retry'
local DEAD = 'zapq:dead'
local INFLIGHT = 'zapq:inflight'
local ARQ_RETRY = 'arq:retry:'
local ARQ_JOB = 'arq:job:'
local BAND = {urgent = -3e13, normal = -2e13, low = -1e13}  -- keys.BAND
local FINAL = {sent = true, failed = true, dead = true, expired = true, cancelled = true}

-- Lua numbers are doubles; format whole numbers without an exponent (ms timestamps have 13 digits).
local function n2s(x) return string.format('%d', x) end

local function history(key, status, now, extra)
  local raw = redis.call('HGET', key, 'history')
  local h = raw and cjson.decode(raw) or {}
  local entry = {status, now}
  if extra then entry[3] = extra end
  h[#h + 1] = entry
  redis.call('HSET', key, 'history', cjson.encode(h), 'status', status, status .. '_at', n2s(now))
end

-- Put a message on the arq ready queue as a new job `<id>.<generation>`: a fresh job id per enqueue
-- means a late arq cleanup of the previous job can never delete this one.
local function push_ready(id, priority, ready_ms, expires_ms, now, job_extra_ms)
  local key = MSG .. id
  local gen = redis.call('HINCRBY', key, 'gen', 1)
  local job = id .. '.' .. gen
  redis.call('HSET', key, 'job', job, 'ready_at', n2s(ready_ms))
  local payload = cjson.encode({t = 1, f = 'send_message', a = {id}, k = {}, et = now})
  local ttl = math.max(expires_ms - now, 0) + job_extra_ms
  redis.call('SET', ARQ_JOB .. job, payload, 'PX', n2s(ttl))
  redis.call('ZADD', QUEUE, n2s(ready_ms + BAND[priority]), job)
  return job
end

-- Put a taken job back in the ready queue at its message's priority and readiness time.
-- Returns 1 when requeued, 0 when its message no longer wants it (finished, cancelled, replaced).
local function back_to_queue(job)
  local id = string.match(job, '^(.*)%.%d+$')
  local f = redis.call('HMGET', MSG .. id, 'job', 'priority', 'ready_at', 'status')
  if f[1] ~= job or FINAL[f[4]] or redis.call('EXISTS', ARQ_JOB .. job) == 0 then
    redis.call('DEL', ARQ_JOB .. job, ARQ_RETRY .. job)
    return 0
  end
  redis.call('ZADD', QUEUE, n2s(tonumber(f[3]) + BAND[f[2]]), job)
  return 1
end

-- The run of a job is over and its outcome recorded: drop the job (saves the worker a round trip).
local function end_job(job)
  redis.call('ZREM', INFLIGHT, job)
  redis.call('DEL', ARQ_JOB .. job, ARQ_RETRY .. job)
end

-- Claim a job's message for sending (status "sending", attempts + 1), or end the job if there is
-- nothing to send. Returns {"claimed", to, text, priority, attempts, ready_at, expires_at,
-- created_at, previous status} or {"skip", reason[, priority, ready_at]} where reason is
-- missing | stale (another job owns the message) | <its final status> | expired.
local function claim_job(job, now, worker, retention)
  local id = string.match(job, '^(.*)%.%d+$')
  local key = MSG .. id
  local f = redis.call('HMGET', key, 'status', 'job', 'priority', 'expires_at', 'to', 'text',
    'ready_at', 'created_at')
  local status, owner, priority, expires = f[1], f[2], f[3], tonumber(f[4])
  if not status then end_job(job); return {'skip', 'missing'} end
  if FINAL[status] then end_job(job); return {'skip', status} end
  if owner ~= job or (status ~= 'queued' and status ~= 'sending') then
    end_job(job)
    return {'skip', 'stale'}
  end
  if now >= expires then
    end_job(job)
    history(key, 'expired', now)
    redis.call('PEXPIRE', key, n2s(retention))
    return {'skip', 'expired', priority, f[7]}
  end
  -- "sending" here means a redelivery: the worker that held the job died or hung past its lock.
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'worker', worker)
  history(key, 'sending', now, {attempt = attempts})
  return {'claimed', f[5], f[6], priority, attempts, f[7], f[4], f[8], status}
end
