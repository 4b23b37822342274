-- Where the queue stands, for positions: {started, applied, epoch present (1/0)}.
-- KEYS[1] started, KEYS[2] applied, KEYS[3] epoch
return {
  tonumber(redis.call('GET', KEYS[1]) or '0'),
  tonumber(redis.call('GET', KEYS[2]) or '0'),
  redis.call('EXISTS', KEYS[3]),
}
