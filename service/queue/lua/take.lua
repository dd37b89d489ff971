-- A worker takes up to n ready jobs, highest priority first: for each it checks the message still
-- wants sending, routes it to a sender, books the sender's next slot (the GCRA limiter) and claims
-- the message, all in one atomic call: the limit costs no extra round trip per message, and two
-- pods can never both take a sender's last slot.
-- ARGV: n, now_ms, lock_ms, worker, retention_ms, cfg (JSON), pool (JSON {{name, day}, ...})
-- Also touches: P.MSG.., P.SENDER.., P.PARKED.., P.STICKY.., P.ARQ_JOB.., P.CALLBACK..,
-- P.CB_ENDPOINT.. (same hash slot). A message whose recipient opted out (K.SUPPRESSED) since it
-- was queued ends cancelled here, unsent.
-- Returns {jobs = {claim...}, skipped = {...}, version, empty, retry_at}: see MessageQueue.take.
--
-- Routing: a pinned message goes to its sender or waits for it (parked while the sender is
-- paused, disconnected, open or at its daily limit; left at the head while it is only busy). Else
-- a recipient keeps the sender it was last sent from while that sender is healthy (sticky); else
-- the available sender whose next slot comes first. `avoid` is the sender that just refused the
-- message (complete.lua): it is passed over while another can take it.
-- A job leaves the ready queue for K.INFLIGHT, scored by its lock deadline (its send time plus
-- lock_ms): if the worker dies, promote.lua puts the job back once the deadline passes.
local n, now, lock = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local worker, retention = ARGV[4], tonumber(ARGV[5])
local cfg, pool = cjson.decode(ARGV[6]), cjson.decode(ARGV[7])
local out = {jobs = {}, skipped = {}, version = redis.call('GET', K.SENDERS_VERSION) or '0'}

local jobs = redis.call('ZRANGEBYSCORE', K.QUEUE, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0,
  n * cfg.scan)
if #jobs == 0 then
  out.empty = true
  return cjson.encode(out)
end
refuse_if_full() -- before the first write (Spec.probe_in_script): an empty poll writes nothing
local senders, names = load_pool(pool)

-- The available sender whose next slot comes first, passing over `avoid` while another can take.
local function best_sender(avoid)
  local best, best_at, fallback = nil, nil, nil
  for _, name in ipairs(names) do
    local s = senders[name]
    if not unavailable(s, now, cfg) then
      if name == avoid then
        fallback = s
      else
        local at = gcra_next(s.tat, s.rate, s.burst, now)
        if best == nil or at < best_at then best, best_at = s, at end
      end
    end
  end
  return best or fallback
end

-- The sender for a message, or nil and what to do with it: 'wait' (leave it at the head),
-- 'park' (aside until its pinned sender can take it), 'unknown' (pinned to a deleted sender),
-- 'none' (no sender of the pool can take anything now: the scan stops, nothing after could go).
local function route(pin, to, avoid)
  if pin then
    local s = senders[pin]
    if s == nil then
      -- Not in this worker's view of the registry: new (the view is reloaded) or deleted.
      return nil, redis.call('HEXISTS', K.SENDERS, pin) == 1 and 'wait' or 'unknown'
    end
    local why = unavailable(s, now, cfg)
    if why == nil then return s end
    return nil, why == UNAVAILABLE.BUSY and 'wait' or 'park'
  end
  local sticky = redis.call('GET', P.STICKY .. to)
  local s = sticky and sticky ~= avoid and senders[sticky]
  if s then
    local why = unavailable(s, now, cfg)
    if why == nil then return s end
    if why == UNAVAILABLE.BUSY then return nil, 'wait' end
  end
  local best = best_sender(avoid)
  if best == nil then return nil, 'none' end
  return best
end

local function skip(job, id, reason, f)
  redis.call('ZREM', K.QUEUE, job)
  end_job(job)
  out.skipped[#out.skipped + 1] = {job = job, id = id, reason = reason, priority = f and f[3]}
end

local function claim(job, score, id, key, f, s)
  local at = reserve(s, now)
  redis.call('ZREM', K.QUEUE, job)
  redis.call('ZADD', K.INFLIGHT, n2s(at + lock), job)
  -- "sending" here means a redelivery: the worker that held the job died or hung past its lock.
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'worker', worker, 'sender', s.name)
  history(key, S.SENDING, now, {attempt = attempts, sender = s.name})
  out.jobs[#out.jobs + 1] = {
    job = job, score = tonumber(score), id = id, to = f[5], priority = f[3], attempts = attempts,
    ready_at = tonumber(f[6]), expires_at = tonumber(f[4]), redelivered = f[1] == S.SENDING,
    sender = s.name, send_at = at, interval = 1000 / s.rate, payload = f[7],
  }
end

local taken = 0
for i = 1, #jobs, 2 do
  if taken >= n then break end
  local job, score = jobs[i], jobs[i + 1]
  local id = message_id(job)
  local key = P.MSG .. id
  local f = redis.call('HMGET', key, 'status', 'job', 'priority', 'expires_at', 'to', 'ready_at',
    'payload', 'pin', 'avoid')
  local status = f[1]
  if not status then
    skip(job, id, 'missing')
  elseif FINAL[status] then
    skip(job, id, status)
  elseif f[2] ~= job or (status ~= S.QUEUED and status ~= S.SENDING) then
    skip(job, id, 'stale')
  elseif now >= tonumber(f[4]) then
    skip(job, id, S.EXPIRED, f)
    finish(key, S.EXPIRED, now, retention)
  elseif redis.call('ZSCORE', K.SUPPRESSED, f[5]) then
    -- The recipient opted out after this was queued: it ends unsent (and says why).
    skip(job, id, S.CANCELLED, f)
    redis.call('HSET', key, 'error_class', 'recipient_opted_out',
      'last_error', 'the recipient opted out (suppression list)')
    finish(key, S.CANCELLED, now, retention, {reason = 'recipient_opted_out'})
  else
    local s, action = route(f[8], f[5], f[9])
    if action == 'none' then break end
    if s then
      claim(job, score, id, key, f, s)
      taken = taken + 1
    elseif action == 'park' then
      redis.call('ZREM', K.QUEUE, job)
      redis.call('ZADD', P.PARKED .. f[8], score, job)
    elseif action == 'unknown' then
      skip(job, id, S.FAILED, f)
      redis.call('HSET', key, 'error_class', 'sender_unknown',
        'last_error', 'its sender was deleted from the pool')
      finish(key, S.FAILED, now, retention, {error_class = 'sender_unknown'})
    end
  end
end

local soonest = nil
for _, name in ipairs(names) do
  local s = senders[name]
  save_sender(s)
  local at = available_at(s, now, cfg)
  if at and (soonest == nil or at < soonest) then soonest = at end
end
if taken == 0 then out.retry_at = soonest end
-- More may be ready than this worker could take: pass the wake-up on to another idle worker.
if taken >= n and #jobs > 2 * n then wake() end
return cjson.encode(out)
