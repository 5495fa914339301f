// The few etcd operations the store uses, in its own small types: compares,
// puts, deletes and ranges inside one transaction (etcd applies a
// transaction at one revision, all or nothing), and what came back.
import type { ICompare, IKeyValue, IRequestOp, ITxnResponse } from 'etcd3';
import type { Connection } from './connection.js';
import { prefixEnd } from './keys.js';

/** A key-value as read: everything as text (etcd's int64s stay decimal strings). */
export interface Entry {
  readonly key: string;
  readonly value: string;
  readonly createRevision: string;
  readonly modRevision: string;
  /** The lease the key is attached to ('0': none). */
  readonly lease: string;
}

/** One compare of a transaction. */
export type Compare = ICompare;
/** One operation of a transaction. */
export type Op = IRequestOp;

/** What a transaction did. */
export interface TxnResult {
  readonly succeeded: boolean;
  /** The store's revision after the transaction (the revision it wrote at, when it wrote). */
  readonly revision: string;
  /** For each operation of the branch taken: the entries a range returned (empty for puts and deletes). */
  readonly ranges: readonly (readonly Entry[])[];
}

const key = (name: string) => Buffer.from(name);

/** Compares of a transaction. */
export const is = {
  /** The key does not exist. */
  absent: (name: string): Compare => ({
    key: key(name),
    target: 'Create',
    result: 'Equal',
    create_revision: 0,
  }),
  /** The key was last written at `revision` ('0': it does not exist). */
  modifiedAt: (name: string, revision: string): Compare => ({
    key: key(name),
    target: 'Mod',
    result: 'Equal',
    mod_revision: revision,
  }),
  /** The key exists, attached to `lease`. */
  leasedTo: (name: string, lease: string): Compare => ({
    key: key(name),
    target: 'Lease',
    result: 'Equal',
    lease,
  }),
};

/** Operations of a transaction. */
export const op = {
  put: (name: string, value: string, lease?: string): Op => ({
    request_put: { key: key(name), value: Buffer.from(value), ...(lease === undefined ? {} : { lease }) },
  }),
  del: (name: string): Op => ({ request_delete_range: { key: key(name) } }),
  get: (name: string): Op => ({ request_range: { key: key(name) } }),
  /** Every key under `prefix`. */
  scan: (prefix: string): Op => ({ request_range: { key: key(prefix), range_end: prefixEnd(prefix) } }),
};

function entryOf(kv: IKeyValue): Entry {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: String(kv.create_revision),
    modRevision: String(kv.mod_revision),
    lease: String(kv.lease),
  };
}

/** Runs one transaction (once: the caller retries through `Connection.call` when that is safe). */
export async function txn(
  connection: Connection,
  compare: readonly Compare[],
  success: readonly Op[],
  failure: readonly Op[] = [],
): Promise<TxnResult> {
  const reply: ITxnResponse = await connection.client.kv.txn({
    compare: [...compare],
    success: [...success],
    failure: [...failure],
  });
  return {
    succeeded: reply.succeeded,
    revision: String(reply.header.revision),
    ranges: (reply.responses ?? []).map((response) =>
      response.response_range ? (response.response_range.kvs ?? []).map(entryOf) : [],
    ),
  };
}

/** Reads in one transaction (one revision): for each op, the entries it returned. */
export async function read(connection: Connection, ops: readonly Op[]): Promise<TxnResult> {
  return connection.call(() => txn(connection, [], ops));
}
