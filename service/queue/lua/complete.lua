-- Record the outcome of an attempt. ARGV: id, job_id, now_ms, outcome, fields_json, retention_ms,
-- dead_retention_ms. outcome: sent | failed | retry | dead | expired.
-- fields_json: {provider_id, remote_jid, dispatched_at, error, error_class, next_at}
-- Returns 1 when recorded, 0 when the message no longer belongs to this job (a duplicate delivery
-- already finished it). Either way the job's run ends here (end_job).
local id, job, now, outcome = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local fields = cjson.decode(ARGV[5])
local retention, dead_retention = tonumber(ARGV[6]), tonumber(ARGV[7])
local key = MSG .. id
local f = redis.call('HMGET', key, 'status', 'job')
end_job(job)
if f[1] ~= 'sending' or f[2] ~= job then return 0 end
if fields.dispatched_at then redis.call('HSET', key, 'dispatched_at', n2s(fields.dispatched_at)) end
if outcome == 'sent' then
  redis.call('HSET', key, 'provider_id', fields.provider_id, 'remote_jid', fields.remote_jid)
  history(key, 'sent', now)
  redis.call('PEXPIRE', key, n2s(retention))
  return 1
end
redis.call('HSET', key, 'last_error', fields.error, 'error_class', fields.error_class)
local extra = {error_class = fields.error_class}
if outcome == 'retry' then
  redis.call('HSET', key, 'next_attempt_at', n2s(fields.next_at))
  history(key, 'scheduled', now, extra)
  redis.call('ZADD', RETRY, n2s(fields.next_at), id)
elseif outcome == 'dead' then
  history(key, 'dead', now, extra)
  redis.call('ZADD', DEAD, n2s(now), id)
  redis.call('ZREMRANGEBYSCORE', DEAD, '-inf', n2s(now - dead_retention))
  redis.call('PEXPIRE', key, n2s(dead_retention))
else -- failed | expired
  history(key, outcome, now, extra)
  redis.call('PEXPIRE', key, n2s(retention))
end
return 1
