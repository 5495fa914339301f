import { describe, expect, it } from 'vitest';
import { hasPromtool, promtoolCheck } from '../../test/promtool.js';
import { type AppMetricsInput, adoptedByKind, ReapTally, renderAppMetrics } from './index.js';

const input: AppMetricsInput = {
  services: [
    { name: 'cache-service', up: true, restarts: 2, healthCheckFailures: 5, badMessages: 1 },
    // A name with every character the format must escape.
    { name: 'odd "name"\\with\nnewline', up: false, restarts: 0, healthCheckFailures: 0, badMessages: 3 },
  ],
  store: { kind: 'redis', up: false, leaseRenewals: 4, leaseFailures: 7, outages: 2, unverifiedEntries: 3 },
  reap: {
    cleanups: [
      { kind: 'vm', outcome: 'deleted', count: 4 },
      { kind: 'vm', outcome: 'failed', count: 1 },
      { kind: 'process', outcome: 'skipped-not-ours', count: 2 },
    ],
    adopted: { vm: 1, disk: 2 },
  },
};

/** `name{labels}` → value of every sample line. */
function samples(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), line.slice(space + 1));
  }
  return out;
}

describe('renderAppMetrics', () => {
  const text = renderAppMetrics(input);

  it('has every family with HELP and TYPE before its samples', () => {
    const families = {
      system_manager_service_up: 'gauge',
      system_manager_service_restarts_total: 'counter',
      system_manager_service_health_check_failures_total: 'counter',
      system_manager_service_bad_messages_total: 'counter',
      system_manager_session_store_up: 'gauge',
      system_manager_session_store_info: 'gauge',
      system_manager_session_lease_renewals_total: 'counter',
      system_manager_session_lease_failures_total: 'counter',
      system_manager_session_store_outages_total: 'counter',
      system_manager_session_store_unverified_entries_total: 'counter',
      system_manager_reap_cleanups_total: 'counter',
      system_manager_session_adopted_resources: 'gauge',
    };
    const lines = text.trimEnd().split('\n');
    for (const [name, type] of Object.entries(families)) {
      const help = lines.indexOf(lines.find((l) => l.startsWith(`# HELP ${name} `)) ?? '');
      expect(help, `HELP of ${name}`).toBeGreaterThanOrEqual(0);
      expect(lines[help + 1]).toBe(`# TYPE ${name} ${type}`);
      const first = lines.findIndex((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      expect(first, `a sample of ${name}`).toBeGreaterThan(help + 1);
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders the values, with label values escaped', () => {
    const values = samples(text);
    expect(values.get('system_manager_service_up{service="cache-service"}')).toBe('1');
    expect(values.get('system_manager_service_restarts_total{service="cache-service"}')).toBe('2');
    expect(values.get('system_manager_service_health_check_failures_total{service="cache-service"}')).toBe(
      '5',
    );
    expect(values.get('system_manager_service_bad_messages_total{service="cache-service"}')).toBe('1');
    const odd = 'service="odd \\"name\\"\\\\with\\nnewline"';
    expect(values.get(`system_manager_service_up{${odd}}`)).toBe('0');
    expect(values.get(`system_manager_service_bad_messages_total{${odd}}`)).toBe('3');
    expect(values.get('system_manager_session_store_up')).toBe('0');
    expect(values.get('system_manager_session_store_info{kind="redis"}')).toBe('1');
    expect(values.get('system_manager_session_store_info{kind="file"}')).toBe('0');
    expect(values.get('system_manager_session_store_info{kind="etcd"}')).toBe('0');
    expect(values.get('system_manager_session_lease_renewals_total')).toBe('4');
    expect(values.get('system_manager_session_lease_failures_total')).toBe('7');
    expect(values.get('system_manager_session_store_outages_total')).toBe('2');
    expect(values.get('system_manager_session_store_unverified_entries_total')).toBe('3');
    // No raw newline inside any sample line: every line is a comment or a sample.
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) |system_manager_)/);
  });

  it('renders a duplicated service name once, and no services as families without samples', () => {
    const twice = renderAppMetrics({
      services: [input.services[0], { ...input.services[0], restarts: 99 }] as AppMetricsInput['services'],
      store: { kind: 'file', up: true, leaseRenewals: 0, leaseFailures: 0, outages: 0 },
    });
    expect(twice.match(/^system_manager_service_restarts_total\{/gm)).toHaveLength(1);
    expect(samples(twice).get('system_manager_service_restarts_total{service="cache-service"}')).toBe('2');
    const none = renderAppMetrics({ services: [], store: input.store });
    expect(none).toContain('# TYPE system_manager_service_up gauge');
    expect(none).not.toMatch(/^system_manager_service_up/m);
  });

  describe.runIf(hasPromtool())('promtool check metrics', () => {
    it('accepts the output, escaped names and empty families included', () => {
      for (const exposition of [
        text,
        renderAppMetrics({ services: [], store: { ...input.store, kind: 'file', up: true } }),
      ]) {
        expect(promtoolCheck(exposition)).toEqual({ status: 0, output: '' });
      }
    });

    it('would notice a broken exposition (the check can fail)', () => {
      const unescaped = text.replace('odd \\"name\\"', 'odd "name"');
      expect(promtoolCheck(unescaped).status).not.toBe(0);
      const noHelp = text.replace(/^# HELP system_manager_service_up .*\n/m, '');
      expect(promtoolCheck(noHelp)).toMatchObject({
        status: 3,
        output: expect.stringContaining('no help text'),
      });
    });
  });
});

describe('reaping metrics', () => {
  it('counts cleanups by kind and outcome and the adopted resources by kind', () => {
    const values = samples(renderAppMetrics(input));
    expect(values.get('system_manager_reap_cleanups_total{kind="vm",outcome="deleted"}')).toBe('4');
    expect(values.get('system_manager_reap_cleanups_total{kind="vm",outcome="failed"}')).toBe('1');
    expect(values.get('system_manager_reap_cleanups_total{kind="process",outcome="skipped-not-ours"}')).toBe(
      '2',
    );
    expect(values.get('system_manager_session_adopted_resources{kind="vm"}')).toBe('1');
    expect(values.get('system_manager_session_adopted_resources{kind="disk"}')).toBe('2');
  });

  it('always reports the adopted VMs, 0 when nothing was reaped (an alert never sees an absent series)', () => {
    const { reap: _reap, ...withoutReap } = input;
    const values = samples(renderAppMetrics(withoutReap));
    expect(values.get('system_manager_session_adopted_resources{kind="vm"}')).toBe('0');
    expect([...values.keys()].some((k) => k.startsWith('system_manager_reap_cleanups_total'))).toBe(false);
  });

  it('ReapTally adds up phases; adoptedByKind counts only adopted resources', () => {
    const tally = new ReapTally();
    tally.add([
      { kind: 'vm', outcome: 'failed' },
      { kind: 'vm', outcome: 'deleted' },
    ]);
    tally.add([{ kind: 'vm', outcome: 'failed' }]);
    expect(tally.cleanups()).toEqual([
      { kind: 'vm', outcome: 'failed', count: 2 },
      { kind: 'vm', outcome: 'deleted', count: 1 },
    ]);
    const resource = (kind: string, id: string, adoptedFrom?: string) => ({
      kind,
      id,
      registeredAt: 0,
      ...(adoptedFrom === undefined ? {} : { metadata: { adoptedFrom } }),
    });
    expect(
      adoptedByKind([
        resource('vm', 'a', 'dead-1'),
        resource('vm', 'b'),
        resource('process', 'api'),
        resource('vm', 'c', 'dead-2'),
      ]),
    ).toEqual({ vm: 2 });
  });
});
