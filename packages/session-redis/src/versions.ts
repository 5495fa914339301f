// Record versions are "<epoch>:<incarnation>:<n>": the dataset's epoch, a
// random id per created record, and a counter. Only the owner and a holding
// reaper move a record's counter, always forwards (scripts.ts), so a version
// of the owner's own incarnation with a LOWER counter than the owner last
// wrote cannot come from anyone's write: the server went back to an older
// snapshot (a crash, then a restart from its last RDB/AOF save).

interface ParsedVersion {
  readonly head: string; // "<epoch>:<incarnation>"
  readonly n: number;
}

function parse(version: string): ParsedVersion | null {
  const at = version.lastIndexOf(':');
  if (at <= 0) return null;
  const n = Number(version.slice(at + 1));
  return Number.isSafeInteger(n) && n >= 0 ? { head: version.slice(0, at), n } : null;
}

/** The version after `version` (n + 1), as the scripts count; null when it is not a version. */
export function nextVersion(version: string): string | null {
  const parsed = parse(version);
  return parsed === null ? null : `${parsed.head}:${parsed.n + 1}`;
}

/** Whether `current` is an earlier version of the record this owner wrote as `own`: a rollback, not a take-over. */
export function isEarlierOwnVersion(current: string, own: string): boolean {
  const a = parse(current);
  const b = parse(own);
  return a !== null && b !== null && a.head === b.head && a.n < b.n;
}
