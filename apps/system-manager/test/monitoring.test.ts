// The monitoring pack (monitoring/ at the repository root) against the real
// thing: the alert rules pass `promtool check rules` and their unit tests
// (`promtool test rules`), every dashboard query is valid PromQL, and every
// metric the rules and the dashboard name is one a running manager with a
// real cache service actually serves.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  APP_DIR,
  httpGet,
  killTagged,
  type ManagerUnderTest,
  startManager,
  tempDir,
  waitUntil,
} from './helpers.js';
import { hasPromtool } from './promtool.js';

const MONITORING = path.resolve(APP_DIR, '..', '..', 'monitoring');
const ALERTS = path.join(MONITORING, 'alerts.yaml');
const ALERT_TESTS = path.join(MONITORING, 'alerts.test.yaml');
const DASHBOARD = path.join(MONITORING, 'dashboard.json');

/** Our metric families are named with one of these prefixes; PromQL functions and labels never are. */
const METRIC_NAME = /\b(?:system_manager|cache|process|nodejs)_[a-z0-9_]+\b/g;

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

function dashboardPanels(): Panel[] {
  return (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels;
}

function dashboardQueries(): string[] {
  return dashboardPanels().flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** The rule file without its comment lines (which may mention names in prose). */
function alertRulesText(): string {
  return readFileSync(ALERTS, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
}

/** Grafana's variables replaced by values Prometheus accepts, so promtool can parse the query. */
function asPromQL(query: string): string {
  return query
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__range', '6h')
    .replaceAll('$instance', '.*');
}

function promtool(args: string[], cwd = MONITORING): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const managers: ManagerUnderTest[] = [];
afterEach(async () => {
  await killTagged();
  for (const m of managers.splice(0)) m.remove();
});

describe('the dashboard', () => {
  it('has unique panel ids and a query in every panel, each through the datasource variable', () => {
    const panels = dashboardPanels();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const graphs = panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const panel of graphs) expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
    expect(readFileSync(DASHBOARD, 'utf8')).not.toMatch(/"uid":\s*"(?!\$\{datasource\}|system-manager")/);
  });
});

describe.skipIf(!hasPromtool())('the monitoring pack with promtool', { timeout: 60_000 }, () => {
  it('alert rules pass `promtool check rules` and their unit tests', () => {
    const checked = promtool(['check', 'rules', ALERTS]);
    expect(checked.output).toMatch(/SUCCESS: 6 rules found/);
    expect(checked.status).toBe(0);
    const tested = promtool(['test', 'rules', ALERT_TESTS]);
    expect(tested.output).toMatch(/SUCCESS/);
    expect(tested.status).toBe(0);
  });

  it('every dashboard query is valid PromQL (checked as recording rules)', () => {
    const queries = dashboardQueries();
    const tmp = tempDir('sm-dashboard-');
    const file = path.join(tmp.dir, 'dashboard-queries.yaml');
    const rules = queries
      .map((q, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(asPromQL(q))}`)
      .join('\n');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const checked = promtool(['check', 'rules', file], tmp.dir);
    expect(checked.output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(checked.status).toBe(0);
  });

  it('names only metrics a running manager with a cache service serves', async () => {
    const named = new Set([
      ...dashboardQueries().flatMap((q) => q.match(METRIC_NAME) ?? []),
      ...(alertRulesText().match(METRIC_NAME) ?? []),
    ]);
    // Every area the issue asks for is on the dashboard or in the rules.
    for (const family of [
      'system_manager_service_up',
      'system_manager_service_restarts_total',
      'system_manager_session_store_up',
      'system_manager_session_adopted_resources',
      'cache_hits_total',
      'cache_cost_saved_usd_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ])
      expect(named, family).toContain(family);

    const manager = await startManager({
      services: [
        {
          name: 'cache-service',
          command: '{node}',
          args: ['{builtin:example/cache-service}'],
          port: 'main_api',
        },
      ],
    });
    managers.push(manager);
    const control = await manager.ready();
    const servicePort = (await manager.status()).services[0]?.port as number;
    // A miss then a hit, so the service reports its cache and the cache_* families exist.
    await httpGet(servicePort, '/lookup?key=a');
    await httpGet(servicePort, '/lookup?key=a');
    let scraped = '';
    await waitUntil(
      async () => {
        scraped = (await httpGet(control, '/metrics')).body;
        return scraped.includes('# TYPE cache_hits_total counter');
      },
      10_000,
      'the cache families in /metrics',
    );
    const served = new Set([...scraped.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const missing = [...named].filter((name) => !served.has(name));
    expect(missing).toEqual([]);
    // The series the VM alert selects exists even before anything was reaped.
    expect(scraped).toMatch(/^system_manager_session_adopted_resources\{kind="vm"\} 0$/m);

    manager.child.kill('SIGTERM');
    expect((await manager.exited).code).toBe(0);
  });
});
