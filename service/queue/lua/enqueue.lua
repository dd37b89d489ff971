-- ARGV: now_ms, retention_ms, idem_ttl_ms, key_id (the tenant: the API key's name), keep_ms (how
--   long past its expiry a record may live, retentions included), then two arguments per message:
--   its envelope (JSON {id, to, priority, expires_at (ms), and only when set: send_at (ms), idem
--   (key), fp (the request's fingerprint, with idem), pin (sender name), callback_url, lean (the
--   payload without text and media, swapped in once final)}) and its payload (opaque: Python's,
--   stored as given). An envelope names only what it sets: decoding is most of a message's cost
--   here that is not a Redis command.
-- Also touches: P.MSG.., P.IDEM.., P.ARQ_JOB.., P.RECIPIENT.. (same hash slot).
-- Returns {outcomes = {...}, earlier = {[index] = id}}: per message, in order, "new";
-- "duplicate" (same idempotency key and request) or "conflict" (same key, different request),
-- with the earlier message's id in `earlier` under the message's index (1-based, a string);
-- "unknown_sender" (pinned to a sender the registry does not have); or "opted_out" (the recipient
-- is on the suppression list, K.SUPPRESSED). Everything for one message happens in this one call,
-- so a message is either fully enqueued (record, queue entry, idempotency key) or not at all.
local now = tonumber(ARGV[1])
local now_s = n2s(now)
local retention = tonumber(ARGV[2])
local idem_ttl = tonumber(ARGV[3])
local key_id = ARGV[4]
local keep = tonumber(ARGV[5])
local outcomes, earlier = {}, {}
-- The new jobs' queue entries, added by one ZADD at the end (score, member, ...).
local queued = {}
-- arq's payloads of this call's jobs differ only by the message id: encoded once, not per job.
local arq_head, arq_tail = string.match(arq_job_payload('@', now), '^(.-)@(.*)$')

-- Fields of a record that are written only when the envelope sets them: the sender it is pinned
-- to, where its callbacks go (lib.lua's message_callback reads it on each status it reports), its
-- idempotency key (erasure drops it with the record), its payload once final (lib.lua's finish).
local OPTIONAL = {'pin', 'callback_url', 'idem', 'lean'}

-- The new record is written whole by one HSET (its history, its first job), not field by field.
local function add(m, payload)
  local key = P.MSG .. m.id
  local send_at = m.send_at
  local scheduled = send_at ~= nil and send_at > now
  local status = scheduled and S.SCHEDULED or S.QUEUED
  local ready_at = scheduled and send_at or now
  local fields = {'id', m.id, 'to', m.to, 'priority', m.priority, 'attempts', 0,
    'created_at', now_s, 'expires_at', n2s(m.expires_at), 'send_at', send_at and n2s(send_at) or '',
    'key_id', key_id, 'payload', payload, 'ready_at', n2s(ready_at), 'keep', n2s(keep),
    history_fields({}, status, now)}  -- last: all its values go in
  for _, name in ipairs(OPTIONAL) do
    if m[name] then fields[#fields + 1] = name; fields[#fields + 1] = m[name] end
  end
  local job = not scheduled and job_id(m.id, 1)
  if job then
    fields[#fields + 1] = 'gen'; fields[#fields + 1] = 1
    fields[#fields + 1] = 'job'; fields[#fields + 1] = job
  end
  redis.call('HSET', key, unpack(fields))
  index_recipient(m.to, m.id, now, math.max(m.expires_at - now, 0) + keep)
  redis.call('PEXPIRE', key, n2s(math.max(m.expires_at - now, 0) + retention))
  if job then
    queue_job(job, arq_head .. m.id .. arq_tail, m.priority, now, m.expires_at, now, queued)
  else
    redis.call('ZADD', K.SCHEDULED, n2s(send_at), m.id)
    wake_promoter()
  end
end

for i = 6, #ARGV, 2 do
  local m = cjson.decode(ARGV[i])
  local existing = m.idem and redis.call('GET', m.idem)
  local outcome = 'new'
  if existing then
    local sep = string.find(existing, '|', 1, true)
    local old_id, old_fp = string.sub(existing, 1, sep - 1), string.sub(existing, sep + 1)
    outcome = old_fp == m.fp and 'duplicate' or 'conflict'
    earlier[tostring(#outcomes + 1)] = old_id
  elseif m.pin and redis.call('HEXISTS', K.SENDERS, m.pin) == 0 then
    outcome = 'unknown_sender'
  elseif redis.call('ZSCORE', K.SUPPRESSED, m.to) then
    outcome = 'opted_out'
  else
    add(m, ARGV[i + 1])
    if m.idem then redis.call('SET', m.idem, m.id .. '|' .. m.fp, 'PX', n2s(idem_ttl)) end
  end
  outcomes[#outcomes + 1] = outcome
end
if #queued > 0 then
  zadd_many(K.QUEUE, queued)
  wake()
end
return cjson.encode({outcomes = outcomes, earlier = earlier})
