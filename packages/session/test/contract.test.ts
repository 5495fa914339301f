// The shared SessionStore contract suite (tooling/session-contract) against the file store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSessionStoreContract } from '@tooling/session-contract';
import { afterAll, beforeAll, describe } from 'vitest';
import * as session from '../src/index.js';

describe('on a temp directory', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'session-contract-file-'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  describeSessionStoreContract(
    'FileSessionStore',
    (fleet) => new session.FileSessionStore({ dir: join(base, fleet), fsync: false }),
    session,
  );
});
