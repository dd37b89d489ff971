-- Remove one sender from the registry. ARGV: name, unpark_limit
-- Its messages pinned to it go back to the ready queue, where take.lua fails them (their sender no
-- longer exists); messages sticky to it are routed to the others.
-- Also touches: P.SENDER.., P.PARKED.. (same hash slot). Returns {deleted}.
local name, limit = ARGV[1], tonumber(ARGV[2])
if redis.call('HDEL', K.SENDERS, name) == 0 then return cjson.encode({deleted = false}) end
redis.call('DEL', P.SENDER .. name, P.SENDER .. name .. ':minute')
while unpark(name, limit) > 0 do end
redis.call('INCR', K.SENDERS_VERSION)
return cjson.encode({deleted = true})
