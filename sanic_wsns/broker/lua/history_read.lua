-- Read a namespace's position and the frames kept after an offset.
--
-- KEYS[1] stream key, KEYS[2] meta key (as in history_publish.lua)
-- ARGV[1] offset: return frames after it   ARGV[2] meta ttl, s
-- ARGV[3] epoch to start with when the stream has none: fixed now, so a client told this
--         position before the first publish can still recover from it
-- Returns {last offset, epoch, {{id, {"f", frame}}, ...}}.
local meta = redis.call("hmget", KEYS[2], "e", "s")
local epoch, offset = meta[1], meta[2]
if not epoch then
    epoch = ARGV[3]
    offset = 0
    redis.call("hset", KEYS[2], "e", epoch)
    redis.call("del", KEYS[1])
end
redis.call("expire", KEYS[2], ARGV[2])
return {tonumber(offset or 0), epoch, redis.call("xrange", KEYS[1], "(" .. ARGV[1] .. "-0", "+")}
