-- A worker takes up to n ready jobs in one atomic call. ARGV: n, now_ms, lock_ms
-- Each job leaves the ready queue for zapq:inflight, scored by its lock deadline: if the worker dies,
-- promote.lua puts the job back once the deadline passes (a redelivery). Returns job id, score pairs.
local n, now, lock = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local jobs = redis.call('ZRANGEBYSCORE', QUEUE, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0, n)
for i = 1, #jobs, 2 do
  redis.call('ZREM', QUEUE, jobs[i])
  redis.call('ZADD', INFLIGHT, n2s(now + lock), jobs[i])
end
return jobs
