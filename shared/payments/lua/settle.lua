-- Captures or voids an authorisation in the simulated provider's ledger: counts the call, and
-- moves only an open authorisation (captured and voided are final). KEYS[1] the entry;
-- ARGV[1] the new status, ARGV[2] the call counter field
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
if redis.call('HGET', KEYS[1], 'status') == 'authorized' then redis.call('HSET', KEYS[1], 'status', ARGV[1]) end
return 1
