-- Applies the draw of a frozen roster: the drawn tickets (base+1..base+size, written to `drawing`
-- beforehand in chunks) join the line, and admission begins. Idempotent: a second worker's draw (the
-- same tickets) is refused once applied. ARGV[3] the frozen "base:size" the draw was computed for,
-- ARGV[4] idle (ms). Answers whether it applied it (incomplete: `drawing` is not fully written yet).
if redis.call('EXISTS', k.drawn) == 1 then return cjson.encode({applied = false}) end
if redis.call('GET', k.frozen) ~= ARGV[3] then return cjson.encode({applied = false, stale = true}) end
local size = tonumber(string.match(ARGV[3], ':(%d+)$'))
if redis.call('ZCARD', k.drawing) ~= size then return cjson.encode({applied = false, incomplete = true}) end
redis.call('ZUNIONSTORE', k.line, 2, k.line, k.drawing, 'AGGREGATE', 'MIN')
redis.call('DEL', k.drawing)
redis.call('SET', k.drawn, '1')
local now = now_ms()
room_gen(now)
local n = admit(now, tonumber(redis.call('GET', k.capacity) or '0'), tonumber(ARGV[4]), 'draw')
publish(head(now))
return cjson.encode({applied = true, admittedNow = n})
