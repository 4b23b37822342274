-- After a batch commits: the applied mark moves up to the batch's last sequence, the finished
-- requests' sequences are forgotten, then the news is published, in that order. A request whose
-- sequence is at or below the mark is final (see accepted.lua and standing.lua).
-- KEYS[1] applied, KEYS[2] seqs hash; ARGV[1] last sequence, ARGV[2] channel, ARGV[3] message,
-- ARGV[4..] request ids
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
for i = 4, #ARGV, 500 do
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
