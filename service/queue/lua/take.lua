-- A worker takes up to n ready jobs, highest priority first, and claims their messages, in one
-- atomic call. ARGV: n, now_ms, lock_ms, worker, retention_ms
-- Each job leaves the ready queue for zapq:inflight, scored by its lock deadline: if the worker dies,
-- promote.lua puts the job back once the deadline passes (a redelivery).
-- Returns one entry per job: {job_id, score, claim_job(...) result}.
local n, now, lock = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local worker, retention = ARGV[4], tonumber(ARGV[5])
local jobs = redis.call('ZRANGEBYSCORE', QUEUE, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0, n)
local out = {}
for i = 1, #jobs, 2 do
  redis.call('ZREM', QUEUE, jobs[i])
  redis.call('ZADD', INFLIGHT, n2s(now + lock), jobs[i])
  out[#out + 1] = {jobs[i], jobs[i + 1], claim_job(jobs[i], now, worker, retention)}
end
return out
