-- A member's status, exactly. ARGV[3] member, ARGV[4] idle (ms), ARGV[5] '1' to count the read as
-- activity of an admitted member.
local st = status(ARGV[3], now_ms(), tonumber(ARGV[4]), ARGV[5] == '1')
if not st then return cjson.encode({absent = true, head = head(now_ms())}) end
return cjson.encode(st)
