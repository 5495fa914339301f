// Where everything lives. Every key starts with the prefix, which holds one
// Redis Cluster hash tag (default `{core-session}:`), so every key of a fleet
// hashes to one slot and a script may touch any of them — as long as it
// declares each one in KEYS, which every script here does (Cluster and
// proxies route and check by the declared keys).
//
//   P epoch                STRING  random id of this server's dataset; created (SET NX) by the first
//                                   store to connect. A server restarted without persistence comes back
//                                   without it, so every version read before the restart stops matching.
//   P s:<sessionId>        HASH    ver = "<epoch>:<incarnation>:<n>" (compare-and-set token),
//                                   rec = SessionRecord JSON, reaper = {by, since} JSON while a reaper holds it
//   P l:<sessionId>        STRING  the session's lease id, PX leaseTtlMs, refreshed by its heartbeat
//   P sessions             SET     ids of every session with a record (for listing only)
//   P c:<kind>:<scope>:<id> STRING "v2 <holder sessionId> <SessionOwner JSON>", created with SET NX;
//                                   scope = the holder's host id for host-scoped kinds, `fleet` otherwise
//   P claims:<kind>        SET     "<scope>:<id>" of every claim of that kind (for listing only)
//   P imported-v1          STRING  set once a v1 store (one fleet-wide hash) was imported (migration.ts)

/** Key names of one fleet (one prefix). */
export class KeyLayout {
  /** The dataset epoch. */
  readonly epoch: string;
  /** The set of session ids with a record. */
  readonly sessions: string;

  /** @param prefix - validated key prefix (holds a hash tag) */
  constructor(readonly prefix: string) {
    this.epoch = `${prefix}epoch`;
    this.sessions = `${prefix}sessions`;
  }

  /** A session's record hash. */
  record(sessionId: string): string {
    return `${this.prefix}s:${sessionId}`;
  }

  /** A session's lease. */
  lease(sessionId: string): string {
    return `${this.prefix}l:${sessionId}`;
  }

  /** The index of claims of one kind. */
  claimIndex(kind: string): string {
    return `${this.prefix}claims:${kind}`;
  }

  /** A claim key from its index member (`<scope>:<id>`). */
  claimFromMember(kind: string, member: string): string {
    return `${this.prefix}c:${kind}:${member}`;
  }
}

/** Scope of a claim: the host id for host-scoped kinds, else `fleet` (host ids are hex digests, never `fleet`). */
export function claimMember(scope: string, id: string): string {
  return `${scope}:${id}`;
}

/** Splits an index member back into scope and id (the id may itself contain `:`). */
export function splitClaimMember(member: string): { scope: string; id: string } | null {
  const at = member.indexOf(':');
  if (at <= 0 || at === member.length - 1) return null;
  return { scope: member.slice(0, at), id: member.slice(at + 1) };
}
