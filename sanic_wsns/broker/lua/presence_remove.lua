-- Remove presence entries (clients that left, or a whole instance shutting down).
--
-- KEYS[1] expiry zset   KEYS[2] entries hash   ARGV client ids
-- Returns the ids that were present: only those are announced as leaves, so a leave that
-- an expiry sweep already announced is not announced twice.
local left = {}
for i = 1, #ARGV do
    if redis.call("hdel", KEYS[2], ARGV[i]) == 1 then
        left[#left + 1] = ARGV[i]
    end
    redis.call("zrem", KEYS[1], ARGV[i])
end
return left
