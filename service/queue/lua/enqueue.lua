-- ARGV: now_ms, retention_ms, idem_ttl_ms, job_extra_ms, then one JSON message per argument:
--   {id, to, text, priority, send_at (ms|null), expires_at (ms), idem (key|""), fp, metadata, key_id,
--    idempotency_key, source}
-- Returns per message {outcome, id}: outcome "new", "duplicate" (same idempotency key and request) or
-- "conflict" (same key, different request). Everything for one message happens in this one call, so a
-- message is either fully enqueued (record, queue entry, idempotency key) or not at all.
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local idem_ttl = tonumber(ARGV[3])
local job_extra = tonumber(ARGV[4])
local out = {}
for i = 5, #ARGV do
  local m = cjson.decode(ARGV[i])
  local existing = nil
  if m.idem ~= '' then existing = redis.call('GET', m.idem) end
  if existing then
    local sep = string.find(existing, '|', 1, true)
    local old_id, old_fp = string.sub(existing, 1, sep - 1), string.sub(existing, sep + 1)
    out[#out + 1] = {old_fp == m.fp and 'duplicate' or 'conflict', old_id}
  else
    local key = MSG .. m.id
    local send_at = m.send_at ~= cjson.null and m.send_at or nil
    local scheduled = send_at ~= nil and send_at > now
    local ready = scheduled and send_at or now
    redis.call('HSET', key, 'id', m.id, 'to', m.to, 'text', m.text, 'priority', m.priority,
      'attempts', 0, 'created_at', n2s(now), 'expires_at', n2s(m.expires_at),
      'send_at', send_at and n2s(send_at) or '', 'metadata', m.metadata, 'key_id', m.key_id,
      'idempotency_key', m.idempotency_key, 'source', m.source, 'ready_at', n2s(ready))
    history(key, scheduled and 'scheduled' or 'queued', now)
    redis.call('PEXPIRE', key, n2s(math.max(m.expires_at - now, 0) + retention))
    if scheduled then
      redis.call('ZADD', SCHEDULED, n2s(send_at), m.id)
    else
      push_ready(m.id, m.priority, now, m.expires_at, now, job_extra)
    end
    if m.idem ~= '' then redis.call('SET', m.idem, m.id .. '|' .. m.fp, 'PX', n2s(idem_ttl)) end
    out[#out + 1] = {'new', m.id}
  end
end
return out
