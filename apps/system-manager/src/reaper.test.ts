import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSessionManager, readHostIdentity, type SessionRecord } from '@core/session';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers.js';
import { createLogger } from './logger.js';
import {
  MissingFencingTokenError,
  reapAndCleanUp,
  renderCommand,
  UnsafeCommandValueError,
} from './reaper.js';

const recorder = fileURLToPath(new URL('../test/fixtures/record-cleanup.mjs', import.meta.url));

// A pid whose process has exited: every planted session is dead.
const pid = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid as number;

function deadRecord(sessionId: string, vmId: string, zone = 'zone-a'): SessionRecord {
  const host = readHostIdentity();
  return {
    sessionId,
    pid,
    hostname: host.hostname,
    hostId: host.id,
    processStartTime: '1',
    createdAt: Date.now(),
    registeredAt: Date.now(),
    status: 'active',
    vmId,
    zone,
    components: [],
    metadata: {},
    resources: [{ kind: 'vm', id: vmId, zone, registeredAt: Date.now() }],
  };
}

function plant(dir: string, record: SessionRecord): void {
  mkdirSync(join(dir, 'sessions'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'sessions', `${record.sessionId}.json`), JSON.stringify(record), { mode: 0o600 });
}

describe('renderCommand', () => {
  const base = { kind: 'vm', id: 'vm-1', zone: 'us-east1-b', registeredAt: 0, metadata: { project: 'p1' } };

  it('substitutes placeholders', () => {
    expect(
      renderCommand(['gcloud', 'delete', '{id}', '--zone', '{zone}', '--project={metadata.project}'], base),
    ).toEqual(['gcloud', 'delete', 'vm-1', '--zone', 'us-east1-b', '--project=p1']);
  });

  it('refuses a value that would become an option or carries control or other non-printing characters', () => {
    expect(() => renderCommand(['gcloud', 'delete', '{id}'], { ...base, id: '--project=other' })).toThrow(
      UnsafeCommandValueError,
    );
    expect(() => renderCommand(['x', '{zone}'], { ...base, zone: '-z' })).toThrow(/\{zone\}/);
    expect(() => renderCommand(['x', '{id}'], { ...base, id: 'vm\nrm -rf' })).toThrow(
      /non-printing characters/,
    );
    expect(() => renderCommand(['x', '{id}'], { ...base, id: 'vm\u2028x' })).toThrow(
      /non-printing characters/,
    );
    expect(() =>
      renderCommand(['x', '--p={metadata.project}'], { ...base, metadata: { project: '\u001b[31m' } }),
    ).toThrow(/metadata\.project/);
  });

  it('{token} is the fencing token given; without one the command is refused, never rendered empty', () => {
    expect(renderCommand(['fenced-delete', '{id}', '--fence={token}'], base, { token: '4711' })).toEqual([
      'fenced-delete',
      'vm-1',
      '--fence=4711',
    ]);
    expect(() => renderCommand(['fenced-delete', '{id}', '{token}'], base)).toThrow(MissingFencingTokenError);
    expect(() => renderCommand(['x', '{token}'], base, { token: '-1' })).toThrow(/\{token\}/);
    // A template without {token} needs none.
    expect(renderCommand(['x', '{id}'], base)).toEqual(['x', 'vm-1']);
  });
});

describe('reapAndCleanUp', () => {
  it('deletes dead VMs through the command, adopts the one that fails, refuses unsafe ids without running anything', async () => {
    const root = realpathSync(tempDir('reaper-test-').dir);
    const dir = join(root, 'sessions');
    const record = join(root, 'calls.jsonl');
    writeFileSync(record, '');
    process.env['RECORD_FILE'] = record;
    plant(dir, deadRecord('dead-ok', 'vm-ok'));
    plant(dir, deadRecord('dead-missing', 'vm-missing'));
    plant(dir, deadRecord('dead-broken', 'vm-broken'));
    plant(dir, deadRecord('dead-evil', '--project=other'));
    plant(dir, deadRecord('dead-evil-zone', 'vm-z', '--zone=x'));
    const session = createSessionManager({ dir });
    const log = createLogger({ level: 'silent' });
    const cleanup = {
      vm: {
        command: [process.execPath, recorder, '{id}', '--zone={zone}'],
        notFoundPattern: 'was not found',
        timeoutMs: 10_000,
      },
    };
    const report = await reapAndCleanUp(session, cleanup, { graceMs: 100, log });
    const calls = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    expect(calls.map((c) => c[0]).sort()).toEqual(['vm-broken', 'vm-missing', 'vm-ok']);
    expect(calls.flat().some((a) => a.includes('--project=other'))).toBe(false);
    expect(report.adopted.map((a) => a.id)).toEqual(['vm-broken']);
    expect(report.refused?.map((a) => a.sessionId).sort()).toEqual(['dead-evil', 'dead-evil-zone']);
    expect(report.removed).toBe(3);
    // Adopted by this session (retried by its shutdown); refused ones still recorded where they were.
    expect((await session.getMyResources()).map((r) => [r.id, r.metadata?.['adoptedFrom']])).toEqual([
      ['vm-broken', 'dead-broken'],
    ]);
    const left = (await session.listSessions()).map((l) => l.record.sessionId).sort();
    expect(left).toEqual(['dead-evil', 'dead-evil-zone', session.sessionId].sort());
    // The next run reports the refused ones again and runs nothing for them.
    const again = await reapAndCleanUp(createSessionManager({ dir }), cleanup, { graceMs: 100, log });
    expect(again.refused?.length).toBe(2);
    expect(readFileSync(record, 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('reaps 48 dead VMs with 8 cleanups at once, never more', { timeout: 60_000 }, async () => {
    const root = realpathSync(tempDir('reaper-test-').dir);
    const dir = join(root, 'sessions');
    for (let i = 0; i < 48; i++) plant(dir, deadRecord(`dead-${i}`, `vm-${i}`));
    const marker = join(root, 'inflight');
    mkdirSync(marker);
    // A real command that records how many of its kind run at once, by files in a directory.
    const script = join(root, 'cleanup.mjs');
    writeFileSync(
      script,
      `import { readdirSync, writeFileSync, unlinkSync, appendFileSync } from 'node:fs';
const me = ${JSON.stringify(marker)} + '/' + process.pid;
writeFileSync(me, '');
appendFileSync(${JSON.stringify(join(root, 'max'))}, readdirSync(${JSON.stringify(marker)}).length + '\\n');
await new Promise((r) => setTimeout(r, 20));
unlinkSync(me);`,
    );
    const session = createSessionManager({ dir });
    const report = await reapAndCleanUp(
      session,
      {
        vm: { command: [process.execPath, script, '{id}'], notFoundPattern: 'not found', timeoutMs: 30_000 },
      },
      { graceMs: 100, log: createLogger({ level: 'silent' }) },
    );
    expect(report.removed).toBe(48);
    const seen = readFileSync(join(root, 'max'), 'utf8').trim().split('\n').map(Number);
    expect(seen).toHaveLength(48);
    expect(Math.max(...seen)).toBeLessThanOrEqual(8);
    expect(Math.max(...seen)).toBeGreaterThan(1);
  });
});
