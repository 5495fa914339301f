// Entries signed with the fleet key. Anyone who can write to the Redis store
// could otherwise plant a session record (and so direct a cleanup command at
// any VM id) or a claim (and so keep a resource from its owner). With a key,
// every record, reaping mark and claim value carries an HMAC-SHA256 over the
// key it is stored under and its text; a value that does not verify is
// refused like a corrupt one: skipped, warned about once, never acted on.
//
// Format: `<text>\n#hmac-sha256:<64 hex>`. The texts are JSON or `v2 <id>
// <JSON>` and never hold a raw newline, so the suffix cannot be confused with
// them; Lua scripts compare whole values and never parse one.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Parsed } from '@core/session/store';

const SUFFIX = /\n#hmac-sha256:([0-9a-f]{64})$/;
/** Fewer bytes than this is a password, not a key. */
export const MIN_FLEET_KEY_BYTES = 32;

/** Signs and checks entries with one fleet key. */
export class EntrySigner {
  private readonly key: Buffer;

  /** @throws RangeError when the key is shorter than {@link MIN_FLEET_KEY_BYTES}. */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length < MIN_FLEET_KEY_BYTES)
      throw new RangeError(
        `RedisSessionStore option "fleetKey": expected at least ${MIN_FLEET_KEY_BYTES} bytes of key (e.g. head -c 32 /dev/urandom), got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}`,
      );
    this.key = Buffer.from(key);
  }

  private mac(scope: string, text: string): Buffer {
    return createHmac('sha256', this.key).update(scope).update('\0').update(text).digest();
  }

  /** `text` with its signature for the entry stored under `scope`. */
  seal(scope: string, text: string): string {
    return `${text}\n#hmac-sha256:${this.mac(scope, text).toString('hex')}`;
  }

  /** The text of a value, or why it is refused (unsigned, or signed with another key or for another entry). */
  open(scope: string, value: string): Parsed<string> {
    const match = SUFFIX.exec(value);
    if (!match)
      return {
        ok: false,
        reason: 'not signed with the fleet key (anyone who can write to the store may have put it there)',
      };
    const text = value.slice(0, match.index);
    const given = Buffer.from(match[1] as string, 'hex');
    if (!timingSafeEqual(given, this.mac(scope, text)))
      return {
        ok: false,
        reason:
          'its signature does not verify with the fleet key (another key, or copied from another entry)',
      };
    return { ok: true, value: text };
  }
}

/** Seals `text` when the store has a key; as it is otherwise. */
export function seal(signer: EntrySigner | null, scope: string, text: string): string {
  return signer === null ? text : signer.seal(scope, text);
}

/**
 * The text of a stored value: checked when the store has a key; without one
 * a signature is dropped unchecked (a store without the key reads a signed
 * fleet as before, and trusts it as before).
 */
export function open(signer: EntrySigner | null, scope: string, value: string): Parsed<string> {
  if (signer !== null) return signer.open(scope, value);
  const match = SUFFIX.exec(value);
  return { ok: true, value: match ? value.slice(0, match.index) : value };
}

/** Whether a refusal reason is a signature's (counted apart from other corrupt values). */
export function isSignatureRefusal(reason: string): boolean {
  return reason.includes('fleet key');
}
