// Claims of unique resources without a global lock. A claim is the file
// `claims/<kind>~<digest>.json` naming its holder and a random nonce (one per
// claim instance), created by link(2) so it appears whole or not at all.
//
// Taking over a dead holder's claim must be won by exactly one claimant, and a
// claimant with an out-of-date view must never replace a newer, live claim.
// Whoever creates `.<claim>.next-<nonce>` exclusively holds the right to
// replace exactly the instance `nonce`; it re-reads the claim, replaces it
// (rename over it) only if it still holds `nonce`, then removes the successor
// file. A claimant that died holding the right is itself a dead holder: the
// next one creates `.<claim>.next-<its nonce>`, and so on. A late claimant
// that creates a successor file after the take-over finds the claim's nonce
// changed and backs off.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClaimOutcome, ClaimRequest, SessionLogger, SessionOwner, StoredClaim } from '../contract.js';
import { SessionClaimUnsettledError } from '../errors.js';
import {
  createExclusiveFileSync,
  readPrivateFile,
  readPrivateFileSync,
  removeFileSync,
  writePrivateFileSync,
} from '../files.js';
import { type ClaimFile, ClaimFileSchema, parseWith } from '../schema.js';
import { claimName, type StoreLayout, successorName } from './layout.js';
import { moveAside } from './records.js';

const MAX_ATTEMPTS = 8;
const MAX_CHAIN = 16;

type ClaimRead = { kind: 'missing' } | { kind: 'ok'; claim: ClaimFile } | { kind: 'corrupt'; reason: string };

function readClaimSync(path: string): ClaimRead {
  const read = readPrivateFileSync(path);
  if (read.kind === 'missing') return { kind: 'missing' };
  if (read.kind === 'unsafe') return { kind: 'corrupt', reason: read.reason };
  const parsed = parseWith(ClaimFileSchema, read.text);
  return parsed.ok ? { kind: 'ok', claim: parsed.value } : { kind: 'corrupt', reason: parsed.reason };
}

function toOwner(holder: ClaimFile['holder']): SessionOwner {
  return holder as SessionOwner;
}

/** Context of the claim operations. */
export interface ClaimContext {
  readonly layout: StoreLayout;
  readonly logger: SessionLogger;
  readonly fsync: boolean;
}

function claimContent(kind: string, id: string, owner: SessionOwner, nonce: string): string {
  const file: ClaimFile = {
    format: 'core-session-claim',
    kind,
    id,
    nonce,
    holder: { ...owner },
    claimedAt: Date.now(),
  };
  return `${JSON.stringify(file)}\n`;
}

/**
 * Wins the right to replace claim instance `nonce` of `name`: creates its
 * successor file, or, when a dead claimant holds that, the successor of the
 * dead claimant's, and so on.
 *
 * @returns the successor files created or passed (to remove when done), or the live holder of the right.
 */
function winSuccession(
  context: ClaimContext,
  name: string,
  nonce: string,
  content: string,
  me: string,
  holderIsDead: (holder: SessionOwner) => boolean,
): { ok: true; chain: string[] } | { ok: false; holder: SessionOwner } {
  const chain: string[] = [];
  let current = nonce;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const path = join(context.layout.claimsDir, successorName(name, current));
    chain.push(path);
    if (createExclusiveFileSync(path, content)) return { ok: true, chain };
    const read = readClaimSync(path);
    if (read.kind === 'missing') {
      chain.pop(); // removed between our create and read: try the same name again
      continue;
    }
    if (read.kind === 'corrupt') {
      moveAside(path, context.logger, read.reason);
      chain.pop();
      continue;
    }
    if (read.claim.holder.sessionId === me) return { ok: true, chain };
    const holder = toOwner(read.claim.holder);
    if (!holderIsDead(holder)) return { ok: false, holder };
    current = read.claim.nonce;
  }
  throw new SessionClaimUnsettledError(name, `more than ${MAX_CHAIN} dead claimants in a row`);
}

function removeAll(paths: readonly string[]): void {
  for (const path of paths) {
    try {
      removeFileSync(path);
    } catch {
      // a leftover successor file names a nonce that never comes back: harmless
    }
  }
}

/**
 * Claims `request.kind`/`request.id` (see `SessionStore.claim`).
 *
 * @throws SessionWriteError when a file could not be written.
 */
export function claimSync(context: ClaimContext, request: ClaimRequest, hostScoped: boolean): ClaimOutcome {
  const { owner } = request;
  const name = claimName(request.kind, request.id, hostScoped ? owner.hostId : null);
  const path = join(context.layout.claimsDir, name);
  const nonce = randomBytes(12).toString('hex');
  const content = claimContent(request.kind, request.id, owner, nonce);
  const isDead = (holder: SessionOwner) => request.holderIsDead(holder, 'none');
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (createExclusiveFileSync(path, content, { fsync: context.fsync })) return { ok: true };
    const read = readClaimSync(path);
    if (read.kind === 'missing') continue;
    if (read.kind === 'corrupt') {
      moveAside(path, context.logger, read.reason);
      continue;
    }
    const held = read.claim;
    if (held.holder.sessionId === owner.sessionId) return { ok: true };
    const previous = toOwner(held.holder);
    if (!isDead(previous)) return { ok: false, holder: previous };
    const right = winSuccession(context, name, held.nonce, content, owner.sessionId, isDead);
    if (!right.ok) return right;
    const again = readClaimSync(path);
    if (again.kind !== 'ok' || again.claim.nonce !== held.nonce) {
      // Someone finished this take-over before us (or the claim is gone): start over.
      removeAll(right.chain.slice(-1));
      continue;
    }
    writePrivateFileSync(path, content, { fsync: context.fsync });
    removeAll(right.chain);
    return { ok: true, takenOverFrom: previous };
  }
  const last = readClaimSync(path);
  if (last.kind === 'ok') return { ok: false, holder: toOwner(last.claim.holder) };
  throw new SessionClaimUnsettledError(name, `kept changing under ${MAX_ATTEMPTS} attempts`);
}

/**
 * Releases a claim if `holderSessionId` still holds it. `own`: the caller is
 * that holder (alive, so nobody takes its claim over meanwhile: read + unlink
 * is safe). Otherwise (a reaper releasing a dead session's claim) the release
 * goes through the succession right, so a claimant taking the dead claim over
 * at the same instant is never undone.
 *
 * @returns whether a claim was removed.
 */
export function releaseClaimSync(
  context: ClaimContext,
  kind: string,
  id: string,
  holderSessionId: string,
  hostIds: readonly (string | null)[],
  releaser: SessionOwner,
): boolean {
  const own = releaser.sessionId === holderSessionId;
  for (const hostId of hostIds) {
    const name = claimName(kind, id, hostId);
    const path = join(context.layout.claimsDir, name);
    const read = readClaimSync(path);
    if (read.kind !== 'ok' || read.claim.holder.sessionId !== holderSessionId) continue;
    if (own) return removeFileSync(path);
    // The successor file names the releaser; when one exists already, a
    // claimant is taking the dead claim over: leave it to them.
    const successor = join(context.layout.claimsDir, successorName(name, read.claim.nonce));
    const marker = claimContent(kind, id, releaser, randomBytes(12).toString('hex'));
    if (!createExclusiveFileSync(successor, marker)) return false;
    const again = readClaimSync(path);
    const removed = again.kind === 'ok' && again.claim.nonce === read.claim.nonce && removeFileSync(path);
    removeAll([successor]);
    return removed;
  }
  return false;
}

/** Every claim of `kind` (reads only). */
export async function listClaimFiles(context: ClaimContext, kind: string): Promise<StoredClaim[]> {
  let names: string[];
  try {
    names = readdirSync(context.layout.claimsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const prefix = `${kind}~`;
  const out: StoredClaim[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
    const read = await readPrivateFile(join(context.layout.claimsDir, name));
    if (read.kind !== 'ok') continue;
    const parsed = parseWith(ClaimFileSchema, read.text);
    if (!parsed.ok || parsed.value.kind !== kind) continue;
    out.push({ kind, id: parsed.value.id, holder: toOwner(parsed.value.holder), lease: 'none' });
  }
  return out;
}
