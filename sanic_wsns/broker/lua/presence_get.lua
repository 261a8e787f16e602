-- The live entries of one namespace, from any instance (hosting it or not).
--
-- KEYS[1] expiry zset   KEYS[2] entries hash
-- Returns {id, public JSON, id, public JSON, ...} of the entries not yet expired.
local now = redis.call("time")
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local live = redis.call("zrangebyscore", KEYS[1], "(" .. cutoff, "+inf")
local out = {}
-- HMGET in slices: unpack() of thousands of ids would overflow Lua's stack.
for first = 1, #live, 500 do
    local last = math.min(first + 499, #live)
    local values = redis.call("hmget", KEYS[2], unpack(live, first, last))
    for i = first, last do
        local value = values[i - first + 1]
        if value then
            out[#out + 1] = live[i]
            out[#out + 1] = value
        end
    end
end
return out
