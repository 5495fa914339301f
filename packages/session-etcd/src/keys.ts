// Where everything lives. Prefix P (default `core-session/`), one fleet per prefix:
//
//   P s/<sessionId>                 the SessionRecord JSON. No lease: a record outlives its owner's
//                                   lease, so a dead session's resources stay reapable. Its
//                                   modRevision is the owner's compare-and-set token.
//   P l/<sessionId>                 the session's lease marker (value: the lease id), attached to its
//                                   lease: present exactly while the lease is alive.
//   P r/<sessionId>                 a reaper's mark `{by, since}` on a dead session's record, attached to
//                                   the reaper's lease. Its modRevision is the fencing token.
//   P c/<kind>/<scope>/<id>         a claim `{holder}`, attached to the holder's lease; scope is the
//                                   holder's host id for host-scoped kinds, `fleet` otherwise.
//
// Kind, scope and id are percent-encoded, so a `/` in an id cannot reach
// another key's place.

/** Session ids this store reads and writes (what `randomUUID()` and the tests make). */
export const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Key names of one fleet. */
export class KeyLayout {
  /** Prefix of every record key. */
  readonly records: string;
  /** Prefix of every lease marker. */
  readonly leases: string;
  /** Prefix of every reaping mark. */
  readonly reapings: string;

  /** @param prefix - validated key prefix, ending with `/` */
  constructor(readonly prefix: string) {
    this.records = `${prefix}s/`;
    this.leases = `${prefix}l/`;
    this.reapings = `${prefix}r/`;
  }

  /** A session's record. */
  record(sessionId: string): string {
    return `${this.records}${sessionId}`;
  }

  /** A session's lease marker. */
  lease(sessionId: string): string {
    return `${this.leases}${sessionId}`;
  }

  /** A reaper's mark on a session's record. */
  reaping(sessionId: string): string {
    return `${this.reapings}${sessionId}`;
  }

  /** Prefix of every claim of `kind`. */
  claims(kind: string): string {
    return `${this.prefix}c/${encodeURIComponent(kind)}/`;
  }

  /** One claim. */
  claim(kind: string, scope: string, id: string): string {
    return `${this.claims(kind)}${encodeURIComponent(scope)}/${encodeURIComponent(id)}`;
  }

  /** Scope and id of a claim key of `kind`, or null when it is not one this layout makes. */
  parseClaim(kind: string, key: string): { scope: string; id: string } | null {
    const prefix = this.claims(kind);
    if (!key.startsWith(prefix)) return null;
    const rest = key.slice(prefix.length).split('/');
    if (rest.length !== 2 || rest[0] === '' || rest[1] === '') return null;
    try {
      return { scope: decodeURIComponent(rest[0] as string), id: decodeURIComponent(rest[1] as string) };
    } catch {
      return null;
    }
  }
}

/** The end of a prefix range: every key starting with `prefix` sorts below it. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the key space
}
