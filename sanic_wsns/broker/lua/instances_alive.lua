-- Which of some instances are alive (their expiry not passed), by Redis's clock.
--
-- KEYS[1] instances zset   ARGV instance ids
-- Returns {now ms, then per id: its expiry ms, or -1 when it is not there}.
local now = redis.call("time")
local out = {tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)}
for i = 1, #ARGV do
    local expiry = redis.call("zscore", KEYS[1], ARGV[i])
    out[#out + 1] = expiry and tonumber(expiry) or -1
end
return out
