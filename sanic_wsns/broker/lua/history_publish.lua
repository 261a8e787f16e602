-- Give a frame the next offset of its namespace, keep it in the namespace's history and
-- publish it, atomically: no instance can see offset N+1 before N, and a frame is in
-- history before anyone hears of it (so a gap read always finds what pub/sub dropped).
--
-- KEYS[1] stream key, KEYS[2] meta key (hash: e = epoch, s = last offset); both carry the
--         channel as hash tag, so in a cluster they live on the channel's shard.
-- ARGV[1] the encoded frame without its closing '}'
-- ARGV[2] relay envelope to publish after the offset header
-- ARGV[3] history size (MAXLEN)   ARGV[4] history ttl, s   ARGV[5] meta ttl, s
-- ARGV[6] epoch to start with when the stream has none (a new or lost stream)
-- ARGV[7] PUBLISH or SPUBLISH     ARGV[8] channel
-- Returns {offset, epoch}.
local epoch = redis.call("hget", KEYS[2], "e")
if not epoch then
    epoch = ARGV[6]
    redis.call("hset", KEYS[2], "e", epoch)
    -- Frames left from a stream whose meta was lost belong to another epoch.
    redis.call("del", KEYS[1])
end
local offset = redis.call("hincrby", KEYS[2], "s", 1)
redis.call("expire", KEYS[2], ARGV[5])
redis.call("xadd", KEYS[1], "MAXLEN", ARGV[3], offset .. "-0", "f", ARGV[1] .. ',"offset":' .. offset .. "}")
redis.call("expire", KEYS[1], ARGV[4])
redis.call(ARGV[7], ARGV[8], "h" .. offset .. ":" .. epoch .. ":" .. ARGV[2])
return {offset, epoch}
