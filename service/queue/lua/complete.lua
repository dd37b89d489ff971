-- Record the outcome of an attempt, and what it says of its sender.
-- ARGV: id, job_id, now_ms, outcome, fields (JSON), retention_ms, dead_retention_ms, cfg (JSON)
-- outcome: sent | failed | retry | dead | expired: Python's decision for a counted attempt.
-- fields: {provider_id, remote_jid, dispatched_at, error, error_class, next_at,
--          sender_fault (the sender's fault: its session, server, key), sender_answered}
-- Also touches: P.SENDER.., P.STICKY.., P.PARKED.., P.ARQ_JOB.., P.PROVIDER.., P.CALLBACK..,
-- P.CB_ENDPOINT.. (same hash slot). A final outcome queues its client callback (lib.lua's finish).
-- Returns {recorded, outcome, breaker}: recorded false when the message no longer belongs to this
-- job (a duplicate delivery already finished it). Either way the job's run ends here (end_job).
--
-- A sender fault is rerouted, and the attempt is not counted: the message goes back to the head of
-- the ready queue with `avoid` = that sender, and the fault counts against the sender's breaker. A
-- sender outage so never pushes messages toward the dead letters. Unless the message itself is the
-- problem (the poison message, e.g. Evolution's 500 on a payload it cannot handle): it failed
-- before, and this sender has sent other messages since. Then the attempt counts (Python's
-- decision: retry with backoff, dead letter) and the breaker is not charged.
local id, job, now, outcome = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local fields = cjson.decode(ARGV[5])
local retention, dead_retention = tonumber(ARGV[6]), tonumber(ARGV[7])
local cfg = cjson.decode(ARGV[8])
local key = K.MESSAGE
local f = redis.call('HMGET', key, 'status', 'job', 'sender', 'to', 'faults', 'fault_at',
  'priority', 'ready_at', 'expires_at')
end_job(job)
if f[1] ~= S.SENDING or f[2] ~= job then return cjson.encode({recorded = false}) end
local sender = f[3]
if fields.dispatched_at then redis.call('HSET', key, 'dispatched_at', n2s(fields.dispatched_at)) end

if outcome == OUTCOME.SENT then
  redis.call('HSET', key, 'provider_id', fields.provider_id, 'remote_jid', fields.remote_jid)
  redis.call('HDEL', key, 'avoid', 'faults', 'fault_at')
  -- Evolution's receipts name the message by its key.id (receipt.lua): index it for as long as
  -- the record lives.
  if fields.provider_id ~= '' then
    redis.call('SET', P.PROVIDER .. fields.provider_id, id, 'PX', n2s(retention))
  end
  finish(key, S.SENT, now, retention)
  if sender then
    sender_worked(sender, now, cfg, true)
    redis.call('SET', P.STICKY .. f[4], sender, 'PX', n2s(cfg.sticky_ms))
  end
  return cjson.encode({recorded = true, outcome = outcome})
end

redis.call('HSET', key, 'last_error', fields.error, 'error_class', fields.error_class)
local extra = {error_class = fields.error_class}
if fields.sender_fault and sender then
  local faults = tonumber(f[5]) or 0
  local last_success = tonumber(redis.call('HGET', P.SENDER .. sender, 'last_success_at')) or 0
  if faults == 0 or last_success <= tonumber(f[6]) then
    local breaker = sender_faulted(sender, now, cfg, fields.error_class)
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('HSET', key, 'faults', faults + 1, 'fault_at', n2s(now), 'avoid', sender)
    extra.rerouted_from = sender
    history(key, S.QUEUED, now, extra)
    push_ready(id, f[7], tonumber(f[8]), tonumber(f[9]), now)
    wake()
    return cjson.encode({recorded = true, outcome = OUTCOME.REROUTED, breaker = breaker})
  end
  extra.poison = true
elseif sender and fields.sender_answered then
  sender_worked(sender, now, cfg, false)
end

if outcome == OUTCOME.RETRY then
  redis.call('HSET', key, 'next_attempt_at', n2s(fields.next_at))
  history(key, S.SCHEDULED, now, extra)
  redis.call('ZADD', K.RETRY, n2s(fields.next_at), id)
  wake_promoter()
elseif outcome == OUTCOME.DEAD then
  history(key, S.DEAD, now, extra)
  redis.call('ZADD', K.DEAD, n2s(now), id)
  redis.call('ZREMRANGEBYSCORE', K.DEAD, '-inf', n2s(now - dead_retention))
  redis.call('PEXPIRE', key, n2s(dead_retention))
  message_callback(key, S.DEAD, now)
else
  finish(key, outcome == OUTCOME.FAILED and S.FAILED or S.EXPIRED, now, retention, extra)
end
return cjson.encode({recorded = true, outcome = outcome, poison = extra.poison})
