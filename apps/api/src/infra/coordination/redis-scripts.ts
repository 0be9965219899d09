/**
 * Lua scripts for the Redis adapter. Each runs atomically on the server, so the
 * read-modify-write steps below cannot interleave across API instances. Time always comes
 * from the Redis server (PTTL / TIME), never from instance clocks, so clock skew between
 * instances cannot stretch or shrink windows and heartbeats.
 */

/**
 * INCRBY that sets a TTL only when it created the key. EXISTS+INCRBY+PEXPIRE inside one
 * script gives exact "ttl only on creation" (PEXPIRE NX would also add a TTL to an
 * existing key that had none).
 * KEYS[1] counter · ARGV[1] increment · ARGV[2] ttl ms (0 = none) → new value
 */
export const INCR_LUA = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if created and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return v
`;

/**
 * GET and DEL in one step (GETDEL would do it, but only from Redis 6.2; everything else here
 * runs on older servers, which managed services still offer).
 * KEYS[1] key → the value it held, or nil
 */
export const TAKE_LUA = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
`;

/**
 * Keeps the larger number and renews the TTL. Values stay the strings callers sent (a Lua
 * number written back could lose digits).
 * KEYS[1] key · ARGV[1] number · ARGV[2] ttl ms (0 = none) → the value held after
 */
export const RAISE_LUA = `
local raw = redis.call('GET', KEYS[1])
local held = nil
-- Digits only: Lua's tonumber would also read "nan", "inf" and hex.
if raw and string.match(raw, '^%-?%d+%.?%d*$') then held = tonumber(raw) end
if held == nil or tonumber(ARGV[1]) > held then raw = ARGV[1] end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], raw, 'PX', ARGV[2]) else redis.call('SET', KEYS[1], raw) end
return raw
`;

/**
 * Fixed-window rate limit. The bucket is one integer key whose TTL is the window: the
 * first allowed request of a window creates it with PX window. Refused requests consume
 * nothing. A key that somehow lost its TTL is treated as a fresh window so it can never
 * lock a client out forever.
 * KEYS[1] bucket · ARGV[1] limit · ARGV[2] window ms · ARGV[3] points
 * → { allowed (1|0), remaining, retryAfterMs, resetMs }
 */
export const CONSUME_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local points = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then used = tonumber(redis.call('GET', KEYS[1]) or '0') end
if used + points > limit then
  if ttl <= 0 then ttl = window end
  return {0, 0, ttl, ttl}
end
if ttl > 0 then
  used = redis.call('INCRBY', KEYS[1], points)
else
  redis.call('SET', KEYS[1], points, 'PX', window)
  used = points
  ttl = window
end
return {1, limit - used, 0, ttl}
`;

/**
 * Borrows up to `want` points from the same fixed-window bucket CONSUME_LUA uses, for an
 * instance that then serves them from local state (leased-limits.ts). Grants nothing unless
 * at least `need` points are free, so a refused borrow consumes nothing. Also returns the
 * window's end on the server clock, which names the window for RETURN_LEASE_LUA.
 * KEYS[1] bucket · ARGV[1] limit · ARGV[2] window ms · ARGV[3] want · ARGV[4] need
 * → { granted, free after the grant, ttl ms, window end ms (server clock) }
 */
export const BORROW_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local need = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
local fresh = ttl <= 0
if fresh then ttl = window else used = tonumber(redis.call('GET', KEYS[1]) or '0') end
local free = limit - used
if free < need then return {0, math.max(free, 0), ttl, now + ttl} end
local grant = math.min(want, free)
if fresh then
  redis.call('SET', KEYS[1], grant, 'PX', window)
else
  redis.call('INCRBY', KEYS[1], grant)
end
return {grant, free - grant, ttl, now + ttl}
`;

/**
 * Gives unused borrowed points back, but only to the window they were borrowed from (its
 * end, on the server clock, must match within 2 ms): points of an ended window are void.
 * KEYS[1] bucket · ARGV[1] points · ARGV[2] window end ms → points given back
 */
export const RETURN_LEASE_LUA = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if math.abs(now + ttl - tonumber(ARGV[2])) > 2 then return 0 end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(tonumber(ARGV[1]), used)
if back > 0 then redis.call('DECRBY', KEYS[1], back) end
return back
`;

/**
 * Heartbeat: a sorted set scored by expiry time (server clock) plus a hash of the JSON
 * info. Listing is O(log N + live) with no SCAN over the keyspace. Both keys carry a TTL
 * at least as long as the longest heartbeat so a dead cluster leaves nothing behind.
 * KEYS[1] zset · KEYS[2] info hash · ARGV[1] id · ARGV[2] ttl ms · ARGV[3] info JSON
 */
export const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 1
`;

/**
 * List live instances, pruning expired ones from both keys.
 * KEYS[1] zset · KEYS[2] info hash → flat list of info JSON strings
 */
export const LIVE_INSTANCES_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`;
