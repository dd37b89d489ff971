-- A worker woke too late for its booked slot (more than one send interval past it: a late send
-- could bunch with the sends booked after it and break the sender's rate). It books the sender's
-- next slot for the same message instead.
-- ARGV: job_id, now_ms, lock_ms, day (the sender's local date), cfg (JSON)
-- Also touches: P.SENDER.. (same hash slot).
-- Returns {send_at, interval} or {lost = true} when the message is no longer this job's or its
-- sender left the pool (the worker then records nothing and lets the job go).
local job, now, lock, day = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local cfg = cjson.decode(ARGV[5])
local f = redis.call('HMGET', K.MESSAGE, 'status', 'job', 'sender')
if f[1] ~= S.SENDING or f[2] ~= job or not f[3] then return cjson.encode({lost = true}) end
local s = load_sender(f[3], day)
if s == nil then return cjson.encode({lost = true}) end
local at = reserve(s, now, true)
save_sender(s)
redis.call('ZADD', K.INFLIGHT, n2s(at + lock), job)
return cjson.encode({send_at = at, interval = 1000 / s.rate})
