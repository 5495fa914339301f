import { describe, expect, it } from 'vitest';
import { printable } from './output.js';
import { renderStatus, type SessionStatus } from './status.js';

describe('text output of values read from records', () => {
  it('shows every non-printing character as \\u{…} and leaves printable text alone', () => {
    expect(printable('vm-1 zone Ünïcode ✓')).toBe('vm-1 zone Ünïcode ✓');
    expect(printable('a\u2028b\u2029c')).toBe('a\\u{2028}b\\u{2029}c');
    expect(printable('\u001b[2Jcleared')).toBe('\\u{1b}[2Jcleared');
    expect(printable('rtl\u202eevil\u200b')).toBe('rtl\\u{202e}evil\\u{200b}');
    expect(printable('lone\ud800')).toBe('lone\\u{d800}');
    expect(printable(null)).toBe('-');
  });

  it('status text escapes a planted session: its id, hostname, reason, VM and orphan names stay on their lines', () => {
    const dead: SessionStatus = {
      sessionId: 'dead\u2028session',
      pid: 42,
      hostname: 'host\u001b[31m',
      thisHost: true,
      liveness: 'dead',
      reason: 'pid 42 is gone\nfake line',
      createdAt: 0,
      sessionDir: null,
      controlPort: null,
      answered: false,
      services: [],
      orphans: [
        { service: 'svc\u2029x', pid: 7, port: null, running: false } as SessionStatus['orphans'][number],
      ],
      vms: [{ id: 'vm\u202e1', zone: 'z\u0007' }],
      ports: {},
    };
    const text = renderStatus({
      registry: { kind: 'file', locations: ['/x'] },
      sessions: [dead],
      hint: null,
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must not reach the terminal
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u2028\u2029\u202e]/u);
    expect(text.split('\n')).toHaveLength(4); // "no live sessions", the dead session, its orphan, its VM
    expect(text).toContain(
      'dead session dead\\u{2028}session (pid 42 on host\\u{1b}[31m): pid 42 is gone\\u{a}fake line',
    );
    expect(text).toContain('vm vm\\u{202e}1 zone z\\u{7} (not cleaned up)');
  });
});
