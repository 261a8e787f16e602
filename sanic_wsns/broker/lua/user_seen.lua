-- A user's online status: per user a sorted set of the instances that hold or held it,
-- scored +inf while one holds it, else the time it was last seen there (ms). Online keys
-- never expire; once no instance holds the user the key expires after ARGV[4] s (the
-- last-seen retention): memory stays bounded by the users seen within it.
--
-- KEYS[1] the user's zset   ARGV[1] instance id   ARGV[2] "1" holds, "0" released
-- ARGV[3] when released, ms ("" for now: Redis's clock)   ARGV[4] retention, s
if ARGV[2] == "1" then
    redis.call("zadd", KEYS[1], "+inf", ARGV[1])
    redis.call("persist", KEYS[1])
    return 0
end
local at = tonumber(ARGV[3])
if not at then
    local now = redis.call("time")
    at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- Only the newest release is kept: at most one finite member (a sweeper may report a
-- dead instance's last refresh after a later release elsewhere).
redis.call("zrem", KEYS[1], ARGV[1])
local newest = redis.call("zrevrangebyscore", KEYS[1], "(+inf", "-inf", "WITHSCORES", "LIMIT", 0, 1)
if #newest == 0 or tonumber(newest[2]) < at then
    redis.call("zremrangebyscore", KEYS[1], "-inf", "(+inf")
    redis.call("zadd", KEYS[1], at, ARGV[1])
end
local top = redis.call("zrange", KEYS[1], -1, -1, "WITHSCORES")
if top[2] ~= "inf" then
    redis.call("expire", KEYS[1], ARGV[4])
end
return 0
