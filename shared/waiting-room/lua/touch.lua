-- Activity of an admitted member: pushes its idle deadline forward. ARGV[3] member, ARGV[4] idle (ms).
-- Answers 1 if admitted (and the admission is in the log), else 0.
local now = now_ms()
local deadline = redis.call('ZSCORE', k.admitted, ARGV[3])
if deadline and tonumber(deadline) > now then
  local ticket = tonumber(redis.call('HGET', k.tickets, ARGV[3]) or '0')
  if LOG and ticket > tonumber(redis.call('GET', k.logged) or '0') then return 0 end
  redis.call('ZADD', k.admitted, now + tonumber(ARGV[4]), ARGV[3])
  return 1
end
return 0
