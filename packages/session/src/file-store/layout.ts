// Where the file store keeps what, and how names encode owners. Names carry
// what a reader must know before it can trust content: a reaping file's name
// says which reaper holds it (so a reaper killed right after its rename is
// still judged by pid and start time), a claim's name is derived from kind +
// id (+ host identity for host-scoped kinds) so exclusive create works.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { SessionOwner } from '../contract.js';

/** Sub-directories of the session directory. */
export interface StoreLayout {
  readonly dir: string;
  readonly sessionsDir: string;
  readonly claimsDir: string;
}

/** The layout under `dir`. */
export function layoutOf(dir: string): StoreLayout {
  return { dir, sessionsDir: join(dir, 'sessions'), claimsDir: join(dir, 'claims') };
}

const SESSION_ID = '[A-Za-z0-9][A-Za-z0-9_-]{0,127}';
const RECORD_NAME = new RegExp(`^(${SESSION_ID})\\.json$`);
// <sessionId>~reaping~<reaperSessionId>~<pid>~<startTime|x>~<hostId|x>.json
const REAPING_NAME = new RegExp(
  `^(${SESSION_ID})~reaping~(${SESSION_ID})~(\\d+)~([0-9A-Za-z]+|x)~([0-9a-f]{1,64}|x)\\.json$`,
);

/** File name of a session's record. */
export function recordName(sessionId: string): string {
  return `${sessionId}.json`;
}

/** File name of a session's record while `reaper` holds it. */
export function reapingName(sessionId: string, reaper: SessionOwner): string {
  const start =
    reaper.processStartTime !== null && /^[0-9A-Za-z]+$/.test(reaper.processStartTime)
      ? reaper.processStartTime
      : 'x';
  return `${sessionId}~reaping~${reaper.sessionId}~${reaper.pid}~${start}~${reaper.hostId ?? 'x'}.json`;
}

/** What a file name in `sessions/` is. */
export type SessionFileName =
  | { readonly kind: 'record'; readonly sessionId: string }
  | {
      readonly kind: 'reaping';
      readonly sessionId: string;
      readonly reaper: Omit<SessionOwner, 'hostname' | 'createdAt'> & {
        readonly processStartTimeKnown: boolean;
      };
    }
  | { readonly kind: 'other' };

/** Parses a name in `sessions/`. */
export function parseSessionFileName(name: string): SessionFileName {
  const record = RECORD_NAME.exec(name);
  if (record) return { kind: 'record', sessionId: record[1] as string };
  const reaping = REAPING_NAME.exec(name);
  if (reaping) {
    const start = reaping[4] as string;
    const hostId = reaping[5] as string;
    return {
      kind: 'reaping',
      sessionId: reaping[1] as string,
      reaper: {
        sessionId: reaping[2] as string,
        pid: Number(reaping[3]),
        processStartTime: start === 'x' ? null : start,
        processStartTimeKnown: start !== 'x',
        hostId: hostId === 'x' ? null : hostId,
      },
    };
  }
  return { kind: 'other' };
}

/** Prefix shared by every reaping name of a session (to find them by listing). */
export function reapingPrefix(sessionId: string): string {
  return `${sessionId}~reaping~`;
}

/**
 * Claim file name of kind + id (+ host identity for host-scoped kinds): a
 * digest, so any id (up to 1 KiB, any characters) gives a short, safe name;
 * the file itself records kind and id.
 */
export function claimName(kind: string, id: string, hostId: string | null): string {
  const digest = createHash('sha256')
    .update(`${kind}\0${id}\0${hostId ?? ''}`)
    .digest('hex')
    .slice(0, 40);
  return `${kind}~${digest}.json`;
}

/** Name of the successor file that holds the right to replace the claim instance `nonce` of `name`. */
export function successorName(name: string, nonce: string): string {
  return `.${name}.next-${nonce}`;
}

const SUCCESSOR = /^\.(.+\.json)\.next-([0-9a-f]{8,64})$/;

/** Parses a successor file name. */
export function parseSuccessorName(name: string): { claim: string; nonce: string } | null {
  const match = SUCCESSOR.exec(name);
  return match ? { claim: match[1] as string, nonce: match[2] as string } : null;
}
