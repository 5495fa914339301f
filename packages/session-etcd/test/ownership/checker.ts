// The ownership checker: judges a whole history (history.ts) against the four
// invariants defined at the top of ../ownership-checker.test.ts and returns
// every violation with a report a person can read. Judged conservatively, so
// that load cannot make a violation up: an operation counts as done only
// when acknowledged, a hold begins at its acknowledgement and ends at the
// first moment it may have ended (a release invoked, a death, a lost lease),
// and "before" means one step was acknowledged before the other was invoked.
import type { CloudEvent, History, OpKind, OpLine } from './history.js';
import { Liveness } from './liveness.js';

export interface Violation {
  readonly invariant: 1 | 2 | 3 | 4;
  readonly message: string;
}

export interface CheckReport {
  readonly violations: readonly Violation[];
  /** Per operation kind: acknowledged, not acknowledged, unknown (the worker died during it). */
  readonly ops: Readonly<Record<OpKind, { ok: number; failed: number; unknown: number }>>;
  readonly text: string;
}

/** One operation: its steps. */
interface Op {
  readonly worker: string;
  readonly session: string;
  readonly op: OpKind;
  readonly invoke: OpLine;
  run?: OpLine;
  done?: OpLine;
}

const acked = (o: Op): boolean => o.done?.ack === true;
const resourceOf = (o: Op): string => o.done?.resource ?? o.invoke.resource;
const tokenOf = (o: Op): bigint | null => {
  const token = o.done?.token ?? o.invoke.token;
  return token === null || token === undefined ? null : BigInt(token);
};

function group<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

function operations(history: History): Op[] {
  const byKey = new Map<string, Op>();
  for (const line of history.lines) {
    if (line.kind !== 'op') continue;
    const key = `${line.worker}#${line.n}`;
    if (line.phase === 'invoke') {
      byKey.set(key, { worker: line.worker, session: line.session, op: line.op, invoke: line });
      continue;
    }
    const op = byKey.get(key);
    if (op !== undefined) op[line.phase] = line;
  }
  return [...byKey.values()];
}

/** Judges `history`; see the invariants at the top of ../ownership-checker.test.ts. */
export function checkHistory(history: History): CheckReport {
  const t0 = Math.min(...history.lines.map((l) => l.at), ...history.faults.map((f) => f.at));
  const rel = (at: number) => (Number.isFinite(at) ? `${((at - t0) / 1000).toFixed(3)}s` : 'the end');
  const lives = new Liveness(history.lines, history.faults);
  const ops = operations(history);
  const violations: Violation[] = [];
  // Messages name times as `@<epoch ms>`; the report shows them as seconds into the run.
  const flag = (invariant: Violation['invariant'], message: string) =>
    violations.push({ invariant, message: message.replace(/@(\d{13})/g, (_, ms) => rel(Number(ms))) });
  const of = (kind: OpKind) => ops.filter((o) => o.op === kind);
  const who = (o: Op) => `${o.worker} (session ${o.session})`;
  const ownerState = (session: string, at: number) =>
    lives.describe(session, at).replace(/ (\d{13})/g, (_, ms) => ` ${rel(Number(ms))}`);

  // (1) No port held by two live owners at overlapping times.
  const releases = of('release');
  const holds = of('acquire')
    .filter(acked)
    .map((o) => {
      const start = (o.done as OpLine).at;
      const resource = resourceOf(o);
      if (!lives.alive(o.session, start))
        flag(
          1,
          `${resource}: acquired by ${who(o)} @${start} while it was dead (${ownerState(o.session, start)})`,
        );
      const lost = history.lines.filter(
        (l) => l.kind === 'lease' && l.event === 'lost' && l.worker === o.worker && l.at >= start,
      );
      const end = Math.min(
        history.endedAt,
        ...releases
          .filter((r) => r.worker === o.worker && r.invoke.resource === resource && r.invoke.at >= start)
          .map((r) => r.invoke.at),
        ...lives.deathsAfter(o.worker, start).map((d) => d.from),
        ...lost.map((l) => (l.kind === 'lease' ? Math.max(l.heldUntil, start) : start)),
      );
      return { o, resource, start, end };
    });
  for (const [resource, list] of group(holds, (h) => h.resource)) {
    for (const [i, a] of list.entries())
      for (const b of list.slice(i + 1))
        if (a.o.session !== b.o.session && a.start < b.end && b.start < a.end)
          flag(
            1,
            `${resource} held by ${who(a.o)} @${a.start}–@${a.end} and by ${who(b.o)} @${b.start}–@${b.end}`,
          );
  }

  // (2) No take-over, cleanup or deletion of a resource while its owner was alive.
  const vmOwner = new Map<string, string>();
  for (const o of of('register')) vmOwner.set(o.invoke.resource, o.session);
  for (const o of of('takeover').filter(acked)) {
    const owner = o.invoke.owner ?? '';
    const at = (o.done as OpLine).at;
    if (!lives.alive(owner, at)) continue;
    flag(2, `${who(o)} took ${owner} over (token ${o.done?.token}) @${at}: ${ownerState(owner, at)}`);
  }
  for (const o of of('cleanup')) {
    const owner = o.invoke.owner ?? '';
    if (!lives.alive(owner, o.invoke.at)) continue;
    flag(
      2,
      `${who(o)} began cleaning ${o.invoke.resource} (token ${o.invoke.token}) @${o.invoke.at}: ${ownerState(owner, o.invoke.at)}`,
    );
  }
  for (const e of history.cloud.filter((c) => c.result === 'deleted')) {
    const owner = vmOwner.get(`vm:${e.vm}`);
    if (owner === undefined || lives.alive(owner, e.at) === false) continue;
    flag(
      2,
      `vm:${e.vm} deleted at the cloud by ${e.by} (token ${e.token}) @${e.at}: ${ownerState(owner, e.at)}`,
    );
  }

  // (3) Every acknowledged VM is still recorded or was cleaned exactly once.
  const recorded = new Set(history.recordedAtEnd.map((r) => r.resource));
  const cloudOf = group(history.cloud, (e) => `vm:${e.vm}`);
  const takeovers = group(of('takeover').filter(acked), (o) => o.invoke.owner);
  const finishes = of('finish').filter(acked);
  const cleanupsOf = group(of('cleanup'), (o) => o.invoke.resource);
  for (const reg of of('register').filter(acked)) {
    const vm = reg.invoke.resource;
    const deletes = (cloudOf.get(vm) ?? []).filter((e) => e.result === 'deleted');
    if (!recorded.has(vm) && deletes.length === 0)
      flag(
        3,
        `${vm} (registered by ${who(reg)} @${(reg.done as OpLine).at}) is lost: in no record and never deleted`,
      );
    if (deletes.length > 1) flag(3, `${vm} deleted ${deletes.length} times at the cloud`);
    const earlier = (takeovers.get(reg.session) ?? []).find((t) => (t.done as OpLine).at < reg.invoke.at);
    if (earlier)
      flag(
        3,
        `${vm} registered by ${who(reg)} @${reg.invoke.at} after ${who(earlier)} took it over @${earlier.done?.at}`,
      );
    const cleanups = cleanupsOf.get(vm) ?? [];
    const acknowledged = cleanups
      .filter(acked)
      .map((c) => ({
        c,
        finish: finishes.find(
          (f) =>
            f.worker === c.worker &&
            f.invoke.token === c.invoke.token &&
            f.invoke.owner === c.invoke.owner &&
            !(f.invoke.kept ?? []).includes(vm),
        ),
      }))
      .filter((x) => x.finish !== undefined)
      .sort((x, y) => (x.finish?.done?.at ?? 0) - (y.finish?.done?.at ?? 0));
    if (acknowledged.length > 1)
      flag(
        3,
        `${vm} cleaned and acknowledged twice: by ${acknowledged.map((x) => `${who(x.c)} token ${x.c.invoke.token}`).join(' and ')}`,
      );
    // Another attempt may begin its fencing check, but none may get past it once the record lost the VM.
    const first = acknowledged[0]?.finish?.done;
    for (const c of cleanups)
      if (first && c.run !== undefined && c.invoke.at > first.at)
        flag(
          3,
          `${vm} cleaned again by ${who(c)} @${c.invoke.at} after its cleanup was acknowledged @${first.at}`,
        );
    for (const c of cleanups.filter((x) => x.run !== undefined)) {
      const token = tokenOf(c);
      const newer = (takeovers.get(c.invoke.owner ?? '') ?? []).find(
        (t) => token !== null && (tokenOf(t) ?? 0n) > token && (t.done as OpLine).at < c.invoke.at,
      );
      if (newer)
        flag(
          3,
          `${vm}: superseded reaper ${who(c)} (token ${token}) ran a cleanup whose fencing check began @${c.invoke.at}, after ${who(newer)} took over with token ${tokenOf(newer)} @${newer.done?.at}`,
        );
    }
  }

  // (4) Fencing tokens strictly increasing per resource.
  const increasing = (list: Op[], what: string) => {
    for (const a of list)
      for (const b of list) {
        const [ta, tb] = [tokenOf(a), tokenOf(b)];
        if (ta === null || tb === null || (a.done as OpLine).at >= b.invoke.at || ta < tb) continue;
        flag(
          4,
          `${what}: token ${tb} of ${who(b)} (@${b.invoke.at}) not above ${ta} of ${who(a)} (acknowledged @${a.done?.at})`,
        );
      }
  };
  for (const [session, list] of takeovers) increasing(list, `take-overs of ${session}`);
  for (const [port, list] of group(holds, (h) => h.resource))
    increasing(
      list.map((h) => h.o),
      `claims of ${port}`,
    );
  for (const [vm, events] of cloudOf) {
    let highest: bigint | null = null;
    for (const e of events.filter((x: CloudEvent) => x.op === 'delete' && x.token !== null)) {
      const token = BigInt(e.token as string);
      if (
        e.result === 'superseded'
          ? highest === null || token >= highest
          : highest !== null && token <= highest
      )
        flag(4, `${vm}: cleanup with token ${token} by ${e.by} @${e.at} ${e.result} after token ${highest}`);
      if (e.result !== 'superseded' && (highest === null || token > highest)) highest = token;
    }
  }

  const counts = Object.fromEntries(
    (['register', 'acquire', 'release', 'takeover', 'cleanup', 'finish'] as const).map((kind) => {
      const list = of(kind);
      return [
        kind,
        {
          ok: list.filter(acked).length,
          failed: list.filter((o) => o.done?.ack === false).length,
          unknown: list.filter((o) => o.done === undefined).length,
        },
      ];
    }),
  ) as Record<OpKind, { ok: number; failed: number; unknown: number }>;
  const faults = group(history.faults, (f) =>
    (f.fault === 'resume' || f.fault === 'heal') && f.pastTtl ? `${f.fault} past TTL` : f.fault,
  );
  const cloud = group(history.cloud, (e) => e.result);
  const ackedVms = new Set(
    of('register')
      .filter(acked)
      .map((o) => o.invoke.resource),
  );
  const leftAtCloud = [...cloudOf].filter(
    ([vm, events]) => !ackedVms.has(vm) && !recorded.has(vm) && !events.some((e) => e.result === 'deleted'),
  ).length;
  const per = (n: 1 | 2 | 3 | 4) => violations.filter((v) => v.invariant === n).length;
  const text = [
    `ownership check: ${violations.length} violation(s)`,
    `operations (acknowledged/not/unknown): ${Object.entries(counts)
      .map(([k, c]) => `${k} ${c.ok}/${c.failed}/${c.unknown}`)
      .join(', ')}`,
    `faults: ${[...faults].map(([k, v]) => `${k} ${v.length}`).join(', ') || 'none'}`,
    `cloud: ${[...cloud].map(([k, v]) => `${k} ${v.length}`).join(', ') || 'nothing'}; ${leftAtCloud} VM(s) left there, none of them acknowledged as registered (the worker died, or its write failed, between creating and registering)`,
    `(1) no port held by two live owners at once: ${per(1)} (${holds.length} holds)`,
    `(2) no take-over/cleanup of a live owner: ${per(2)} (${counts.takeover.ok} take-overs, ${of('cleanup').length} cleanups)`,
    `(3) every acknowledged VM recorded or cleaned exactly once: ${per(3)} (${counts.register.ok} VMs, ${recorded.size} still recorded)`,
    `(4) fencing tokens strictly increasing per resource: ${per(4)}`,
    `fencing at work: ${of('cleanup').filter((o) => o.run === undefined && /superseded/.test(o.done?.detail ?? '')).length} cleanups stopped by the check (superseded), ${(cloud.get('superseded') ?? []).length} refused at the cloud (a higher token got there first)`,
    ...lives.unprovoked.map(
      (l) =>
        `note: ${l.worker} lost its lease without a fault (${l.outcome} @${rel(l.at)}): the machine stalled it for a whole TTL`,
    ),
    ...violations.slice(0, 40).map((v) => `  (${v.invariant}) ${v.message}`),
    ...(violations.length > 40 ? [`  … ${violations.length - 40} more`] : []),
  ].join('\n');
  return { violations, ops: counts, text };
}
