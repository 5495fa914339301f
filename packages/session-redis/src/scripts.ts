// The Lua scripts of the store. Each runs atomically on the server, so every
// check and the writes it guards happen with nothing in between.
//
// Keys (prefix P, default "core-session:"):
//   P sessions        HASH  sessionId -> "v1 <leaseId> <SessionRecord JSON>" (no TTL: a record outlives its lease so its resources stay reapable)
//   P lease:<id>      STRING leaseId, PX leaseTtlMs (refreshed by the owner's heartbeat; its absence is what "stale" means)
//   P version         STRING integer, INCR on every committed change of the sessions hash (the optimistic-concurrency token)

/** One snapshot: version, then (sessionId, stored value, lease value or nil) per session. */
export const READ_SCRIPT = `
local out = { redis.call('GET', KEYS[2]) or '0' }
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  out[#out + 1] = all[i]
  out[#out + 1] = all[i + 1]
  out[#out + 1] = redis.call('GET', ARGV[1] .. all[i]) or false
end
return out
`;

/**
 * Compare-and-set of the whole registry, applied as per-session operations.
 * KEYS: sessions, version, then the lease key of each operation's session.
 * ARGV: expected version, own sessionId ('' if none), own leaseId, lease TTL ms,
 *       whether the store already held that lease ('1'/'0'), then per operation:
 *       sessionId, new value ('' = delete).
 * Replies: {'ok', newVersion} | {'conflict'} | {'lease-live', sessionId}
 *          | {'lease-lost'} | {'lease-conflict', value}.
 */
export const COMMIT_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return { 'conflict' } end
local own, ownLease, ttl, held = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local n = (#ARGV - 5) / 2
for i = 1, n do
  local sid, value = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local lease = redis.call('GET', KEYS[2 + i])
  if sid == own then
    if value ~= '' then
      if lease and lease ~= ownLease then return { 'lease-conflict', lease } end
      if held == '1' and not lease then return { 'lease-lost' } end
    end
  elseif lease then
    -- Another session's record may only change once its lease is gone.
    return { 'lease-live', sid }
  end
end
for i = 1, n do
  local sid, value = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if value == '' then
    redis.call('HDEL', KEYS[1], sid)
    if sid == own and redis.call('GET', KEYS[2 + i]) == ownLease then redis.call('DEL', KEYS[2 + i]) end
  else
    redis.call('HSET', KEYS[1], sid, value)
    if sid == own then redis.call('SET', KEYS[2 + i], ownLease, 'PX', ttl) end
  end
end
return { 'ok', redis.call('INCR', KEYS[2]) }
`;

/** KEYS: lease key. ARGV: leaseId, TTL ms. Refreshes the lease only while it is still ours: 1, else 0. */
export const HEARTBEAT_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/**
 * A new lease for a session whose lease expired (or whose server lost its data).
 * KEYS: sessions, version, lease key. ARGV: new leaseId, TTL ms, sessionId,
 * the owner's last known value (used only when the record is gone; '' = none).
 * A record still stored keeps its content; only its leaseId changes.
 * Replies: {'kept'} (record still there) | {'restored'} (record was gone, written
 * back) | {'none'} (gone and nothing to restore) | {'lease-conflict', value}.
 */
export const RENEW_SCRIPT = `
local lease = redis.call('GET', KEYS[3])
if lease then return { 'lease-conflict', lease } end
local stored = redis.call('HGET', KEYS[1], ARGV[3])
local outcome
if stored then
  local record = string.match(stored, '^v1 [^ ]+ (.*)$')
  if not record then return { 'lease-conflict', 'unreadable record' } end
  redis.call('HSET', KEYS[1], ARGV[3], 'v1 ' .. ARGV[1] .. ' ' .. record)
  outcome = 'kept'
elseif ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[3], 'v1 ' .. ARGV[1] .. ' ' .. ARGV[4])
  outcome = 'restored'
else
  return { 'none' }
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('INCR', KEYS[2])
return { outcome }
`;
