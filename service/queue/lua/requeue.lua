-- Requeue dead letters. ARGV: now_ms, expires_at_ms, retention_ms, job_extra_ms, id...
-- A requeued message starts over: attempts 0, a fresh validity window up to expires_at_ms.
-- Returns the ids requeued (ids no longer dead are skipped).
local now, expires, retention, job_extra = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local done = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = MSG .. id
  if redis.call('ZREM', DEAD, id) == 1 and redis.call('HGET', key, 'status') == 'dead' then
    redis.call('HSET', key, 'attempts', 0, 'expires_at', n2s(expires))
    redis.call('HDEL', key, 'next_attempt_at')
    history(key, 'queued', now, {requeued = true})
    push_ready(id, redis.call('HGET', key, 'priority'), now, expires, now, job_extra)
    redis.call('PEXPIRE', key, n2s(expires - now + retention))
    done[#done + 1] = id
  end
end
return done
