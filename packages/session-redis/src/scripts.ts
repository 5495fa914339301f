// The Lua scripts of the store. Each runs atomically on the server, so the
// checks and the writes they guard happen with nothing in between. Each
// touches one session's record (plus leases and claims named in KEYS), never
// a fleet-wide key: there is no global version and no global lock. Key layout
// in keys.ts. Every reply is a table whose first element names the outcome.

/** A script's reply as the client reads it: the outcome's name first, then its details. */
export type ScriptReply = [string, ...string[]];

/** `ver` is "<epoch>:<incarnation>:<n>"; the next version keeps epoch and incarnation and counts on. */
const NEXT_VERSION = `
local function nextver(ver)
  local head, n = string.match(ver, '^(.+):(%d+)$')
  if not head then return nil end
  return head .. ':' .. (tonumber(n) + 1)
end
`;

/** KEYS: epoch. ARGV: candidate epoch. Creates the epoch if the dataset has none; replies the current one. */
export const ENSURE_EPOCH = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`;

/**
 * KEYS: lease. ARGV: lease id. Drops a lease only while it still holds this
 * store's id (a session that removed its record and is closing: nothing is
 * left for the lease to vouch for). Replies 1 when it was dropped.
 */
export const DROP_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * The hot path of an owner's write: the record is still exactly the version
 * this owner last wrote (a take-over or a lost dataset always changes or
 * removes it), so write the next version and refresh the lease. Kept to two
 * reads' worth of Lua (~4 µs on the server, against ~16 µs for the general
 * script): it is what every register/unregister costs. On 0 the caller runs
 * PUT_RECORD, which tells why.
 * KEYS: record, own lease. ARGV: expected version, next version, record JSON, lease id, TTL ms.
 */
export const PUT_RECORD_FAST = `
if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'rec', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
return 1
`;

/**
 * The owner writes its whole record (create or replace). Hot path: the record
 * is still the version this owner last wrote (no reaper, nobody changed it) —
 * one read, the write, the lease refresh. The epoch is consulted only when
 * that does not hold (creating, or the record changed or vanished), which is
 * when a lost dataset must be told apart from a take-over.
 * KEYS: epoch, record, own lease, sessions index.
 * ARGV: epoch, expected version ('' = create), record JSON, lease id, TTL ms, sessionId,
 *       incarnation (a fresh random id per create, so a re-created record never repeats a version).
 * Replies: {'ok', version} | {'epoch', current} | {'reaped', reaper} | {'changed', version}
 *          | {'lease-conflict', lease} | {'corrupt', version}.
 */
export const PUT_RECORD = `${NEXT_VERSION}
local h = redis.call('HMGET', KEYS[2], 'ver', 'reaper')
if h[2] then return { 'reaped', h[2] } end
if h[1] and h[1] == ARGV[2] then
  local nv = nextver(h[1])
  if not nv then return { 'corrupt', h[1] } end
  redis.call('HSET', KEYS[2], 'ver', nv, 'rec', ARGV[3])
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
  return { 'ok', nv }
end
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
if (h[1] or '') ~= ARGV[2] then return { 'changed', h[1] or '' } end
local lease = redis.call('GET', KEYS[3])
if lease and lease ~= ARGV[4] then return { 'lease-conflict', lease } end
local nv = ARGV[1] .. ':' .. ARGV[7] .. ':1'
redis.call('HSET', KEYS[2], 'ver', nv, 'rec', ARGV[3])
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
return { 'ok', nv }
`;

/**
 * The owner removes its record (the lease stays: the session is still alive).
 * KEYS: epoch, record, sessions index. ARGV: epoch, expected version, sessionId.
 * Replies: {'ok'} | {'missing'} | {'epoch', current} | {'reaped', reaper} | {'changed', version}.
 */
export const REMOVE_RECORD = `
local h = redis.call('HMGET', KEYS[2], 'ver', 'reaper')
if h[2] then return { 'reaped', h[2] } end
if h[1] and h[1] == ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
  return { 'ok' }
end
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
if not h[1] then
  if ARGV[2] == '' then return { 'missing' } end
  return { 'changed', '' }
end
return { 'changed', h[1] }
`;

/**
 * Refreshes the owner's lease; re-establishes an expired one only while its
 * record is exactly what the owner last wrote (nobody took it over, changed
 * or removed it meanwhile): a restored lease never writes back what was reaped.
 * KEYS: epoch, own lease, own record. ARGV: epoch, lease id, TTL ms, own version ('' = no record).
 * Replies: {'ok'} | {'ok', version} (the lease holds but the record is not the
 *          owner's version: a rollback to an older snapshot, or a write whose reply
 *          is still on its way) | {'renewed'} | {'epoch', current}
 *          | {'lease-conflict', lease} | {'reaped', reaper} | {'changed', version}.
 */
export const HEARTBEAT = `
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
local lease = redis.call('GET', KEYS[2])
if lease == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  if ARGV[4] ~= '' then
    local ver = redis.call('HGET', KEYS[3], 'ver')
    if ver ~= ARGV[4] then return { 'ok', ver or '' } end
  end
  return { 'ok' }
end
if lease then return { 'lease-conflict', lease } end
if ARGV[4] ~= '' then
  local h = redis.call('HMGET', KEYS[3], 'ver', 'reaper')
  if h[2] then return { 'reaped', h[2] } end
  if h[1] ~= ARGV[4] then return { 'changed', h[1] or '' } end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return { 'renewed' }
`;

/**
 * Claims a unique resource: exclusive create, or the take-over of the exact
 * claim value the caller judged dead (compare-and-set on the value, and on
 * the holder's lease still being absent when that was the evidence), so of
 * concurrent claimants exactly one wins.
 * KEYS: epoch, claim, claim index, own lease, holder's lease (own lease again when none).
 * ARGV: epoch, new value, own sessionId, index member, lease id, TTL ms,
 *       expected current value ('' = must be free), '1' when the holder's lease must still be absent.
 * Replies: {'ok'} | {'mine'} | {'held', value} | {'epoch', current}.
 */
export const CLAIM = `
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
local cur = redis.call('GET', KEYS[2])
if cur then
  if string.match(cur, '^v2 (%S+) ') == ARGV[3] then return { 'mine' } end
  if cur ~= ARGV[7] then return { 'held', cur } end
  if ARGV[8] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then return { 'held', cur } end
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
local lease = redis.call('GET', KEYS[4])
if not lease then redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6]) end
return { 'ok' }
`;

/**
 * Releases a claim if the given session still holds it.
 * KEYS: claim, claim index. ARGV: holder sessionId, index member. Replies 1 (released) or 0.
 */
export const RELEASE_CLAIM = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 0
end
if string.match(cur, '^v2 (%S+) ') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`;

/**
 * A reaper takes a dead session's record over: only if it is still exactly
 * the listed version, and the leases that were absent when the caller judged
 * (owner's, previous reaper's) are still absent — an owner that came back in
 * between keeps its record. The owner's lease is deleted (void once it is
 * judged dead; a paused owner learns of the take-over from its next
 * heartbeat) and the reaper's is set with the hold (its hold is judged by it).
 * KEYS: epoch, record, owner's lease, own lease, previous reaper's lease (own lease again when none).
 * ARGV: epoch, listed version, reaping mark JSON, lease id, TTL ms,
 *       '1' = owner lease must be absent, '1' = previous reaper's lease must be absent.
 * Replies: {'ok', version, record JSON} | {'changed'} | {'epoch', current} | {'lease-conflict', lease} | {'corrupt', version}.
 */
export const TAKE_OVER = `${NEXT_VERSION}
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
local h = redis.call('HMGET', KEYS[2], 'ver', 'rec')
if not h[1] or h[1] ~= ARGV[2] then return { 'changed' } end
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return { 'changed' } end
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then return { 'changed' } end
local lease = redis.call('GET', KEYS[4])
if lease and lease ~= ARGV[4] then return { 'lease-conflict', lease } end
local nv = nextver(h[1])
if not nv then return { 'corrupt', h[1] } end
redis.call('HSET', KEYS[2], 'ver', nv, 'reaper', ARGV[3])
-- The owner was judged dead: its lease (if a pid-dead owner's is still running out) is void now,
-- and an owner that was only paused learns of the take-over from its next heartbeat.
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5])
return { 'ok', nv, h[2] or '' }
`;

/**
 * The holding reaper writes the record's next state, or finishes: removes it
 * (nothing left) or puts the remainder back without its mark (reapable again).
 * KEYS: epoch, record, sessions index.
 * ARGV: epoch, held version, 'save' | 'finish', record JSON ('' with finish = remove), sessionId.
 * Replies: {'ok', version} | {'removed'} | {'lost', reaper} | {'epoch', current}.
 */
export const REAP_WRITE = `${NEXT_VERSION}
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
local h = redis.call('HMGET', KEYS[2], 'ver', 'reaper')
if h[1] ~= ARGV[2] then return { 'lost', h[2] or '' } end
if ARGV[3] == 'finish' and ARGV[4] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[5])
  return { 'removed' }
end
local nv = nextver(h[1])
redis.call('HSET', KEYS[2], 'ver', nv, 'rec', ARGV[4])
if ARGV[3] == 'finish' then redis.call('HDEL', KEYS[2], 'reaper') end
return { 'ok', nv }
`;

/**
 * One record of a v1 store (one fleet-wide hash) imported as a v2 record:
 * only if the session has no v2 record yet; its v1 lease's remaining time is
 * carried over, so a session that was live stays live until its lease runs out.
 * KEYS: epoch, record, sessions index, lease.
 * ARGV: epoch, record JSON, incarnation, sessionId, v1 lease id ('' = none), its remaining ms.
 * Replies: {'ok'} | {'exists'} | {'epoch', current}.
 */
export const IMPORT_V1_RECORD = `
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return { 'epoch', epoch or '' } end
if redis.call('EXISTS', KEYS[2]) == 1 then return { 'exists' } end
redis.call('HSET', KEYS[2], 'ver', ARGV[1] .. ':' .. ARGV[3] .. ':1', 'rec', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[5] ~= '' and tonumber(ARGV[6]) > 0 then redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6], 'NX') end
return { 'ok' }
`;
