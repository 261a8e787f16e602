-- Give a frame the next offset of its namespace, keep it in the namespace's history and
-- publish it, atomically: no instance can see offset N+1 before N, and a frame is in
-- history before anyone hears of it (so a gap read always finds what pub/sub dropped).
--
-- KEYS[1] stream key, KEYS[2] meta key (hash: e = epoch, s = last offset, b = bytes of
--         the frames in the stream); both carry the channel as hash tag, so in a cluster
--         they live on the channel's shard.
-- ARGV[1] the encoded frame without its closing '}'
-- ARGV[2] relay envelope to publish after the offset header
-- ARGV[3] history size (frames)   ARGV[4] history ttl, s   ARGV[5] meta ttl, s
-- ARGV[6] epoch to start with when the stream has none (a new or lost stream)
-- ARGV[7] PUBLISH or SPUBLISH     ARGV[8] channel
-- ARGV[9] history max bytes: the oldest frames go until the kept ones fit (the newest
--         frame is always kept)
-- KEYS[3], ARGV[10] (a keyed broadcast only) the broadcast key's key, and its window in ms:
--         a key seen within the window is not published again; its first position returns
-- Returns {offset, epoch}.
--
-- Why trim by hand instead of XADD MAXLEN: Redis has no trim by size. Keeping the total
-- in the meta hash makes the byte bound cost one HINCRBY per publish, plus one XRANGE
-- COUNT 1 and one XTRIM MINID per frame dropped (one, in a full stream): no scan.
if KEYS[3] then
    local first = redis.call("get", KEYS[3])
    if first then
        local offset, epoch = string.match(first, "^(%d+):(.*)$")
        return {tonumber(offset), epoch}
    end
end
local epoch = redis.call("hget", KEYS[2], "e")
if not epoch then
    epoch = ARGV[6]
    redis.call("hset", KEYS[2], "e", epoch)
    -- Frames left from a stream whose meta was lost belong to another epoch.
    redis.call("del", KEYS[1])
end
if redis.call("exists", KEYS[1]) == 0 then
    redis.call("hset", KEYS[2], "b", 0)  -- the stream expired (ttl) or was never written
end
local offset = redis.call("hincrby", KEYS[2], "s", 1)
redis.call("expire", KEYS[2], ARGV[5])
local frame = ARGV[1] .. ',"offset":' .. offset .. "}"
redis.call("xadd", KEYS[1], offset .. "-0", "f", frame)
local bytes = redis.call("hincrby", KEYS[2], "b", #frame)
local size, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[9])
local kept = redis.call("xlen", KEYS[1])
while kept > 1 and (kept > size or bytes > max_bytes) do
    local oldest = redis.call("xrange", KEYS[1], "-", "+", "COUNT", 1)[1]
    bytes = redis.call("hincrby", KEYS[2], "b", -#oldest[2][2])
    local first = tonumber(string.match(oldest[1], "^(%d+)"))
    redis.call("xtrim", KEYS[1], "MINID", (first + 1) .. "-0")
    kept = kept - 1
end
redis.call("expire", KEYS[1], ARGV[4])
redis.call(ARGV[7], ARGV[8], "h" .. offset .. ":" .. epoch .. ":" .. ARGV[2])
if KEYS[3] then
    redis.call("set", KEYS[3], offset .. ":" .. epoch, "PX", ARGV[10])
end
return {offset, epoch}
