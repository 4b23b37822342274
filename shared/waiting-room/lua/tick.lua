-- The admission ticker's step for one room: admits whoever fits, measures the admission rate and
-- publishes the head (also when nothing changed: API processes take its arrival as a heartbeat).
-- ARGV[3] idle (ms), ARGV[4] the stock the ticker just counted ('' = unknown).
-- Answers how many it admitted, whether anybody is left (a sold-out room needs no more ticks), the
-- frozen roster awaiting its draw ("base:size") or its record, and how many admissions wait for the
-- log's writer.
local capacity = tonumber(redis.call('GET', k.capacity) or '0')
set_stock(ARGV[4])
local now = now_ms()
local n = admit(now, capacity, tonumber(ARGV[3]), 'ticker')
redis.call('SET', k.rate, admissions_per_minute(now))
local left = redis.call('ZCARD', k.line) + redis.call('ZCARD', k.admitted)
if redis.call('GET', k.stock) == 'sold-out' then left = 0 end
publish(head(now))
local frozen = awaiting_draw() and redis.call('GET', k.frozen) or nil
-- Drawn, but the roster is still here: its record in MySQL (the reveal) is not done yet (a worker
-- stopped between applying the draw and recording it); the draw is recomputed and recorded.
local unrevealed = nil
if not frozen and redis.call('EXISTS', k.roster) == 1 then unrevealed = redis.call('GET', k.frozen) end
if frozen or unrevealed or redis.call('ZCARD', k.pre) > 0 or redis.call('LLEN', k.log) > 0 then left = left + 1 end
-- A pre-queue about to open: the ticker ticks again right at the opening (the draw starts there).
local opens_in = nil
if in_prequeue_time() then opens_in = tonumber(redis.call('HGET', k.gate, 'opensAt') or '0') - now end
return cjson.encode({admittedNow = n, left = left, frozen = frozen, unrevealed = unrevealed,
  unlogged = redis.call('LLEN', k.log), opensIn = opens_in})
