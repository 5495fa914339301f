// The checker on fabricated histories: a valid one passes, and each kind of
// violation the ownership run looks for is caught — an overlapping port
// hold, the cleanup of a live owner, a double cleanup, a lost VM, a
// superseded reaper that ran, and a fencing token that went down.
import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import type { CloudEvent, FaultEvent, History, OpKind, OpLine, WorkerLine } from './history.js';

const T = 1_700_000_000_000;

/** A history builder: times are ms after T. */
function scenario() {
  const lines: WorkerLine[] = [];
  const faults: FaultEvent[] = [];
  const cloud: CloudEvent[] = [];
  const recordedAtEnd: { session: string; resource: string }[] = [];
  let n = 0;
  const start = (worker: string, at = 0) =>
    lines.push({ kind: 'start', worker, session: `s-${worker}`, at: T + at, host: 'h', pid: 1 });
  /** One operation: invoke at `at`, done (ack) at `doneAt` (omitted: unknown), run at `runAt` for cleanups. */
  const op = (
    worker: string,
    kind: OpKind,
    resource: string,
    at: number,
    doneAt: number | null,
    extra: Partial<OpLine> & { ack?: boolean; runAt?: number } = {},
  ) => {
    const { runAt, ack = true, ...fields } = extra;
    const base = { kind: 'op', worker, session: `s-${worker}`, n: ++n, op: kind, resource } as const;
    lines.push({ ...base, phase: 'invoke', at: T + at, ...fields });
    if (runAt !== undefined) lines.push({ ...base, phase: 'run', at: T + runAt });
    if (doneAt !== null) lines.push({ ...base, phase: 'done', at: T + doneAt, ack, ...fields });
  };
  const lease = (
    worker: string,
    event: 'confirmed' | 'lost' | 'renewed',
    at: number,
    heldUntil: number,
    outcome?: string,
  ) =>
    lines.push({
      kind: 'lease',
      worker,
      session: `s-${worker}`,
      at: T + at,
      event,
      leaseId: '1',
      heldUntil: T + heldUntil,
      outcome,
    });
  const fault = (f: FaultEvent['fault'], worker: string, at: number, pastTtl?: boolean) =>
    faults.push({ fault: f, worker, at: T + at, pastTtl });
  const cloudEvent = (
    vm: string,
    op: 'create' | 'delete',
    at: number,
    result: CloudEvent['result'],
    token: string | null,
    by: string,
  ) => cloud.push({ vm, op, at: T + at, result, token, by });
  const history = (): History => ({ lines, faults, cloud, recordedAtEnd, endedAt: T + 20_000 });
  return { lines, recordedAtEnd, start, op, lease, fault, cloudEvent, history };
}

/**
 * w1 and w2 share host a, w3 is on host b. w1 holds port 7000 and releases
 * it, w2 takes it and is killed; w1 reaps w2; w4 is a bystander. w3 is paused past its TTL
 * (lease confirmed until 4.5 s) and reaped by w1 at 6 s; v1 stays recorded.
 */
function valid() {
  const s = scenario();
  s.start('w1');
  s.start('w2');
  s.start('w3');
  s.start('w4');
  s.cloudEvent('v1', 'create', 90, 'created', null, 's-w1');
  s.op('w1', 'register', 'vm:v1', 80, 100);
  s.op('w1', 'acquire', 'port:a/7000', 150, 200, { token: '10' });
  s.op('w1', 'release', 'port:a/7000', 500, 520);
  s.op('w2', 'acquire', 'port:a/7000', 550, 600, { token: '20' });
  s.cloudEvent('v3', 'create', 290, 'created', null, 's-w3');
  s.op('w3', 'register', 'vm:v3', 280, 300);
  s.fault('kill', 'w2', 1000);
  s.op('w1', 'takeover', 'session:s-w2', 1050, 1100, { owner: 's-w2', token: '30' });
  s.op('w1', 'cleanup', 'port:a/7000', 1110, 1120, { owner: 's-w2', token: '30', runAt: 1111 });
  s.op('w1', 'finish', 'session:s-w2', 1130, 1200, { owner: 's-w2', token: '30', kept: [] });
  s.lease('w3', 'confirmed', 1900, 4500);
  s.fault('pause', 'w3', 2000);
  s.op('w1', 'takeover', 'session:s-w3', 5900, 6000, { owner: 's-w3', token: '40' });
  s.op('w1', 'cleanup', 'vm:v3', 6010, 6150, { owner: 's-w3', token: '40', runAt: 6011 });
  s.cloudEvent('v3', 'delete', 6100, 'deleted', '40', 's-w1');
  s.op('w1', 'finish', 'session:s-w3', 6160, 6200, { owner: 's-w3', token: '40', kept: [] });
  s.fault('resume', 'w3', 9000, true);
  s.lease('w3', 'lost', 9001, 4500);
  s.lease('w3', 'renewed', 9002, 4500, 'taken-over');
  s.recordedAtEnd.push({ session: 's-w1', resource: 'vm:v1' });
  return s;
}

const invariants = (h: History) => checkHistory(h).violations.map((v) => v.invariant);

describe('ownership checker', () => {
  it('passes a valid history: a paused owner reaped after its lease ran out, a killed one at once', () => {
    const report = checkHistory(valid().history());
    expect(report.violations).toEqual([]);
    expect(report.ops.takeover).toEqual({ ok: 2, failed: 0, unknown: 0 });
    expect(report.text).toContain('ownership check: 0 violation(s)');
  });

  it('(1) catches a port held by two live owners at once', () => {
    const s = valid();
    s.op('w2', 'acquire', 'port:a/7000', 250, 300, { token: '15' }); // w1 holds it until 0.5 s
    const report = checkHistory(s.history());
    expect(report.violations.map((v) => v.invariant)).toContain(1);
    expect(report.text).toMatch(/port:a\/7000 held by w1 .* and by w2/);
  });

  it('(2) catches the take-over and cleanup of an owner still alive: before its lease could run out, or never paused', () => {
    const early = valid();
    early.op('w2', 'takeover', 'session:s-w3', 3000, 3100, { owner: 's-w3', token: '35' });
    expect(invariants(early.history())).toContain(2);

    const slow = scenario(); // no fault at all: a worker that is merely slow is alive
    slow.start('w1');
    slow.start('w3');
    slow.op('w3', 'register', 'vm:v3', 0, 10);
    slow.op('w1', 'takeover', 'session:s-w3', 5000, 5010, { owner: 's-w3', token: '9' });
    slow.op('w1', 'cleanup', 'vm:v3', 5020, 5030, { owner: 's-w3', token: '9', runAt: 5021 });
    slow.cloudEvent('v3', 'delete', 5025, 'deleted', '9', 's-w1');
    const report = checkHistory(slow.history());
    expect(report.violations.filter((v) => v.invariant === 2)).toHaveLength(3);
    expect(report.text).toContain('the test never caused its death');
  });

  it('(3) catches a double cleanup: acknowledged twice, and retried after it was acknowledged', () => {
    const s = valid();
    s.op('w1', 'takeover', 'session:s-w3', 6300, 6400, { owner: 's-w3', token: '50' });
    s.op('w1', 'cleanup', 'vm:v3', 6410, 6500, { owner: 's-w3', token: '50', runAt: 6411 });
    s.cloudEvent('v3', 'delete', 6450, 'gone', '50', 's-w1');
    s.op('w1', 'finish', 'session:s-w3', 6510, 6600, { owner: 's-w3', token: '50', kept: [] });
    const messages = checkHistory(s.history())
      .violations.filter((v) => v.invariant === 3)
      .map((v) => v.message);
    expect(messages.some((m) => /acknowledged twice/.test(m))).toBe(true);
    expect(messages.some((m) => /cleaned again .* after its cleanup was acknowledged/.test(m))).toBe(true);
  });

  it('(3) does not count a retry after an attempt that was never acknowledged (the reaper died before finishing)', () => {
    const s = valid();
    const i = s.lines.findIndex(
      (l) => l.kind === 'op' && l.op === 'finish' && l.owner === 's-w3' && l.phase === 'done',
    );
    s.lines.splice(i, 1); // w1's finish never completed
    s.op('w4', 'takeover', 'session:s-w3', 7000, 7100, { owner: 's-w3', token: '60' });
    s.op('w4', 'cleanup', 'vm:v3', 7110, 7200, { owner: 's-w3', token: '60', runAt: 7111 });
    s.cloudEvent('v3', 'delete', 7150, 'gone', '60', 's-w4');
    s.op('w4', 'finish', 'session:s-w3', 7210, 7300, { owner: 's-w3', token: '60', kept: [] });
    expect(invariants(s.history())).toEqual([]);
  });

  it('(3) catches a lost VM, a superseded reaper that ran, and a registration after the take-over', () => {
    const lost = valid();
    lost.recordedAtEnd.length = 0;
    expect(checkHistory(lost.history()).text).toMatch(/vm:v1 .* is lost/);

    const superseded = valid();
    superseded.op('w4', 'takeover', 'session:s-w3', 6300, 6400, { owner: 's-w3', token: '50' });
    superseded.op('w1', 'cleanup', 'vm:v3', 6500, 6600, {
      owner: 's-w3',
      token: '40',
      runAt: 6501,
      ack: false,
    });
    expect(checkHistory(superseded.history()).text).toMatch(/superseded reaper w1 .*token 40/);

    const zombie = valid();
    zombie.op('w3', 'register', 'vm:v9', 9100, 9200);
    zombie.recordedAtEnd.push({ session: 's-w3', resource: 'vm:v9' });
    expect(checkHistory(zombie.history()).text).toMatch(/vm:v9 registered by w3 .* after w1 .* took it over/);
  });

  it('(4) catches a fencing token that went down: a take-over, a claim, and a deletion at the cloud', () => {
    const takeover = valid();
    takeover.op('w4', 'takeover', 'session:s-w3', 6300, 6400, { owner: 's-w3', token: '35' });
    expect(invariants(takeover.history())).toContain(4);

    const claim = valid();
    claim.op('w1', 'acquire', 'port:a/7000', 5000, 5100, { token: '19' }); // after w2's claim with 20
    expect(checkHistory(claim.history()).text).toMatch(/claims of port:a\/7000: token 19/);

    const cloud = valid();
    cloud.cloudEvent('v3', 'delete', 6700, 'gone', '38', 's-w2'); // accepted below 40
    expect(checkHistory(cloud.history()).text).toMatch(/vm:v3: cleanup with token 38 .* gone after token 40/);
  });

  it('reports a lease lost without a fault as a note, and ends a hold where the lease could have run out', () => {
    const s = valid();
    s.op('w3', 'acquire', 'port:b/7000', 400, 450, { token: '12' });
    s.lease('w3', 'lost', 1200, 1100);
    s.lease('w3', 'renewed', 1300, 1100, 'kept');
    s.op('w4', 'acquire', 'port:b/7000', 1150, 1250, { token: '25' }); // after w3's lease ran out at 1.1 s
    const report = checkHistory(s.history());
    expect(report.violations).toEqual([]);
    expect(report.text).toMatch(/note: w3 lost its lease without a fault/);
  });
});
