-- The member gives up its place or its admission; the next member is admitted at once.
-- ARGV[3] member, ARGV[4] idle (ms). Publishes the head with the member who left, so that every
-- API process forgets the ticket it remembered for it.
local member, idle = ARGV[3], tonumber(ARGV[4])
local removed = redis.call('ZREM', k.line, member) + redis.call('ZREM', k.admitted, member) + redis.call('ZREM', k.pre, member)
redis.call('HDEL', k.tickets, member)
local capacity = tonumber(redis.call('GET', k.capacity) or '0')
local now = now_ms()
local n = admit(now, capacity, idle, 'leave')
local h = head(now)
h.left = tonumber(member)
publish(h)
return cjson.encode({removed = removed, admittedNow = n, through = h.through})
