import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePorts, holdPort } from '../test/sockets.js';
import { classifyBindError, PortProbeError, probePort } from './index.js';

describe('classifyBindError', () => {
  it('maps EADDRINUSE to busy, EACCES to denied, anything else to null', () => {
    expect(classifyBindError(Object.assign(new Error('x'), { code: 'EADDRINUSE' }))).toBe('busy');
    expect(classifyBindError(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('denied');
    expect(classifyBindError(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }))).toBeNull();
    expect(classifyBindError(null)).toBeNull();
  });
});

describe('probePort (real binds on 127.0.0.1)', () => {
  it('says free for a free port and releases it', async () => {
    const [port] = await freePorts(1);
    expect(await probePort('127.0.0.1', port!)).toBe('free');
    // Released: it can be bound again at once.
    const held = await holdPort(port!);
    await held.close();
  });

  it('says busy for a port a server listens on', async () => {
    const held = await holdPort();
    try {
      expect(await probePort('127.0.0.1', held.port)).toBe('busy');
    } finally {
      await held.close();
    }
  });

  it('surfaces a bind error that says nothing about the port', async () => {
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine: EADDRNOTAVAIL, no packet sent.
    const error = await probePort('192.0.2.1', 8010).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortProbeError);
    expect(error).toMatchObject({ code: 'E_PORT_PROBE', host: '192.0.2.1', port: 8010 });
    expect((error as Error).cause).toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  // Tests run as root here, which may bind privileged ports; an unprivileged
  // child (uid nobody) meets the real EACCES.
  const isRoot = process.getuid?.() === 0;
  const fixture = fileURLToPath(new URL('../test/fixtures/probe-privileged.ts', import.meta.url));
  // tsx would leave its transform cache for that uid behind in the OS temp dir (tsx-65534).
  const asNobody = isRoot
    ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: '/tmp', TSX_DISABLE_CACHE: '1' } }
    : {};
  // A checkout inside a private (0700) directory, as CI's temp clones are, cannot
  // be read by uid nobody; then only the error-mapping unit test above covers EACCES.
  const nobodyCanRead =
    process.platform === 'linux' &&
    spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(fixture)})`], asNobody)
      .status === 0;
  it.skipIf(!nobodyCanRead)(
    'says denied (EACCES) for a privileged port as a non-root user (skipped when uid nobody cannot read the checkout)',
    // uid nobody cannot use tsx's cache of the root user: it compiles the fixture's imports afresh (~10 s under load).
    { timeout: 30_000 },
    () => {
      const args = ['--conditions=@core/source', '--import', 'tsx', fixture, '80'];
      const result = spawnSync(process.execPath, args, {
        encoding: 'utf8',
        timeout: 20_000,
        ...asNobody,
      });
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('denied');
    },
  );
});
