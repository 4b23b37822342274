-- Records an accepted request's queue sequence and answers where it stands.
-- KEYS[1] seqs hash, KEYS[2] started; ARGV[1] request id, ARGV[2] sequence
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return tonumber(redis.call('GET', KEYS[2]) or '0')
