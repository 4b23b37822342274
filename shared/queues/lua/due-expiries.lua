-- Holds whose expiry is due, oldest first. KEYS[1] expiries; ARGV[1] now (ms), ARGV[2] limit
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
