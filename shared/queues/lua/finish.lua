-- After a batch commits: the applied mark moves up to the batch's last sequence, then the news is
-- published, in that order (a long-poll that reads a mark below its sequence is sure to hear it).
-- KEYS[1] applied; ARGV[1] last sequence, ARGV[2] channel, ARGV[3] message
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
