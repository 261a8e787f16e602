-- Add or refresh presence entries of one namespace: one call per namespace per refresh
-- interval carries every local client of that namespace (a batch, not a timer per client).
--
-- KEYS[1] expiry zset (member: client id, score: expiry time in ms, Redis's clock)
-- KEYS[2] entries hash (field: client id, value: the client's public identity, JSON)
-- ARGV[1] entry ttl, ms    ARGV[2] keys ttl, s (the keys outlive their last refresh)
-- ARGV[3..] client id, public JSON, client id, public JSON, ...
-- Returns the ids that were not present: joins (a first add, or an entry that another
-- instance had already expired and announced as a leave, e.g. after a Redis stall).
local now = redis.call("time")
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
local joined = {}
for i = 3, #ARGV, 2 do
    if redis.call("hset", KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
        joined[#joined + 1] = ARGV[i]
    end
    redis.call("zadd", KEYS[1], expires, ARGV[i])
end
redis.call("expire", KEYS[1], ARGV[2])
redis.call("expire", KEYS[2], ARGV[2])
return joined
