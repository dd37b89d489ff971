-- A worker takes a message before sending it. ARGV: id, job_id, now_ms, worker, retention_ms
-- Returns {"claimed", to, text, priority, attempts, ready_at, expires_at, created_at, status}
--      or {"skip", reason}: missing | stale (another job owns it) | <final status> | expired
-- A skip ends the job's run here (end_job).
local id, job, now, worker, retention = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local key = MSG .. id
local f = redis.call('HMGET', key, 'status', 'job', 'priority', 'expires_at', 'to', 'text', 'ready_at',
  'created_at')
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
-- status "sending" here means a redelivery: the worker that held the job died or hung past its lock.
local attempts = redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'worker', worker)
history(key, 'sending', now, {attempt = attempts})
return {'claimed', f[5], f[6], priority, attempts, f[7], f[4], f[8], status}
