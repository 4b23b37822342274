-- Applies the draw of a frozen roster: its members enter the line with tickets base+1..base+size in
-- the drawn order, and admission begins. Idempotent (a second worker's identical draw is refused).
-- ARGV[3] the frozen "base:size" the draw was computed for, ARGV[4] idle (ms), ARGV[5..] member ids
-- in drawn order.
if redis.call('EXISTS', k.drawn) == 1 then return cjson.encode({applied = false}) end
if redis.call('GET', k.frozen) ~= ARGV[3] then return cjson.encode({applied = false, stale = true}) end
local base = tonumber(string.match(ARGV[3], '^(%d+):'))
local batch = {}
for i = 5, #ARGV do
  batch[#batch + 1] = base + i - 4
  batch[#batch + 1] = ARGV[i]
  if #batch >= 2000 then
    redis.call('ZADD', k.line, unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('ZADD', k.line, unpack(batch)) end
redis.call('SET', k.drawn, '1')
local now = now_ms()
room_gen(now)
local n = admit(now, tonumber(redis.call('GET', k.capacity) or '0'), tonumber(ARGV[4]), 'draw')
publish(head(now))
return cjson.encode({applied = true, admittedNow = n})
