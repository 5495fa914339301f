// Pure operations on a session's record: no I/O, no clock reads except the
// `now` passed in. The manager applies them to its in-memory record and writes
// the result; being pure, an operation can be applied again on a newer base.
import type { ResourceRecord, SessionOwner, SessionRecord } from './contract.js';

/** An operation on this session's record. */
export type RecordOperation = (record: SessionRecord) => SessionRecord;

/** A new, empty record for `owner`. */
export function emptyRecord(owner: SessionOwner, now: number): SessionRecord {
  return {
    sessionId: owner.sessionId,
    pid: owner.pid,
    hostname: owner.hostname,
    ...(owner.hostId === null ? {} : { hostId: owner.hostId }),
    ...(owner.stableHostId === undefined ? {} : { stableHostId: owner.stableHostId }),
    processStartTime: owner.processStartTime,
    createdAt: owner.createdAt,
    registeredAt: now,
    status: 'active',
    vmId: null,
    zone: null,
    components: [],
    metadata: {},
    resources: [],
  };
}

/** Whether the record owns nothing (then it is removed rather than written). */
export function ownsNothing(record: SessionRecord): boolean {
  return record.vmId === null && record.resources.length === 0;
}

/** `resources` with `resource` replacing any entry of the same kind and id. */
export function upsertResource(
  resources: readonly ResourceRecord[],
  resource: ResourceRecord,
): ResourceRecord[] {
  const index = resources.findIndex((r) => r.kind === resource.kind && r.id === resource.id);
  if (index < 0) return [...resources, resource];
  const next = [...resources];
  next[index] = resource;
  return next;
}

/** Adds (or replaces) resources. */
export function withResources(records: readonly ResourceRecord[], now: number): RecordOperation {
  return (record) => {
    let resources: ResourceRecord[] = [...record.resources];
    for (const r of records) resources = upsertResource(resources, r);
    return { ...record, registeredAt: now, resources };
  };
}

/** Drops one resource (and the VM fields when it is the VM). */
export function withoutResource(kind: string, id: string, now: number): RecordOperation {
  return (record) => {
    const resources = record.resources.filter((r) => !(r.kind === kind && r.id === id));
    if (resources.length === record.resources.length) return record;
    const dropsVm = kind === 'vm' && record.vmId === id;
    return {
      ...record,
      registeredAt: now,
      resources,
      ...(dropsVm ? { vmId: null, zone: null, components: [], metadata: {} } : {}),
    };
  };
}

/** Drops one resource and adds (or replaces) another, in one step: a restarted process replacing its predecessor. */
export function withReplaced(
  kind: string,
  replacedId: string,
  resource: ResourceRecord,
  now: number,
): RecordOperation {
  const drop = withoutResource(kind, replacedId, now);
  const add = withResources([resource], now);
  return (record) => add(drop(record));
}

/** Sets the session's VM (`registerVm`; also a resource of kind `vm`). */
export function withVm(vm: ResourceRecord, now: number): RecordOperation {
  return (record) => ({
    ...record,
    registeredAt: now,
    vmId: vm.id,
    zone: vm.zone ?? '',
    components: [...(vm.components ?? [])],
    metadata: { ...(vm.metadata ?? {}) },
    resources: upsertResource(record.resources, vm),
  });
}

/** Drops the session's VM (`unregisterVm`). */
export function withoutVm(now: number): RecordOperation {
  return (record) => (record.vmId === null ? record : withoutResource('vm', record.vmId, now)(record));
}

/** Records a heartbeat. */
export function withHeartbeat(now: number): RecordOperation {
  return (record) => ({ ...record, heartbeatAt: now });
}

/**
 * What the exit path may forget once this process is gone: port reservations
 * (nothing to clean up) and child processes verifiably stopped. Everything
 * else — VMs, adopted resources, processes still running or not verifiable —
 * stays recorded, so the session stays reapable and nothing is lost.
 */
export function keepUncleaned(
  isStopped: (resource: ResourceRecord) => boolean,
  now: number,
): RecordOperation {
  return (record) => {
    const resources = record.resources.filter(
      (r) => !(r.kind === 'port' || (r.kind === 'process' && isStopped(r))),
    );
    if (resources.length === record.resources.length) return record;
    const vmKept = record.vmId !== null && resources.some((r) => r.kind === 'vm' && r.id === record.vmId);
    return {
      ...record,
      registeredAt: now,
      resources,
      ...(vmKept ? {} : { vmId: null, zone: null, components: [], metadata: {} }),
    };
  };
}

/** Adopts resources of dead sessions (whose cleanup failed) in one step. */
export function withAdopted(
  adopted: readonly { readonly from: string; readonly resource: ResourceRecord; readonly error: string }[],
  now: number,
): RecordOperation {
  return withResources(
    adopted.map(({ from, resource, error }) => {
      const { cleaningBy: _by, cleaningSince: _since, ...rest } = resource;
      return {
        ...rest,
        registeredAt: now,
        metadata: { ...resource.metadata, adoptedFrom: from, lastCleanupError: error },
      };
    }),
    now,
  );
}
