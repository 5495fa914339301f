import { describe, expect, it } from 'vitest';
import { parseServiceMessage } from './protocol.js';

describe('parseServiceMessage', () => {
  it('accepts every well-formed cache event', () => {
    for (const message of [
      { type: 'core.cache', event: 'hit' },
      { type: 'core.cache', event: 'hit', addCostSavings: false },
      { type: 'core.cache', event: 'miss', expired: true },
      { type: 'core.cache', event: 'miss', uninitialized: true },
      { type: 'core.cache', event: 'cleanup', entriesCleaned: 0, success: false },
      { type: 'core.cache', event: 'cleanup', entriesCleaned: Number.MAX_SAFE_INTEGER },
    ])
      expect(parseServiceMessage(message), JSON.stringify(message)).toEqual({ ok: true, message });
  });

  it('refuses the messages that used to crash the manager, naming kind and value', () => {
    expect(
      parseServiceMessage({ type: 'core.cache', event: 'cleanup', entriesCleaned: 2 ** 60 }),
    ).toMatchObject({
      ok: false,
      kind: 'cleanup.entriesCleaned',
      value: 2 ** 60,
    });
    expect(parseServiceMessage({ type: 'core.cache', event: 'hit', addCostSavings: 1 })).toMatchObject({
      ok: false,
      kind: 'hit.addCostSavings',
      value: 1,
    });
    expect(
      parseServiceMessage({ type: 'core.cache', event: 'miss', expired: true, uninitialized: true }),
    ).toMatchObject({ ok: false, kind: 'miss.uninitialized' });
    expect(parseServiceMessage({ type: 'core.cache', event: 'cleanup', entriesCleaned: -1 })).toMatchObject({
      ok: false,
      kind: 'cleanup.entriesCleaned',
    });
    expect(parseServiceMessage({ type: 'core.cache', event: 'cleanup', entriesCleaned: 1.5 })).toMatchObject({
      ok: false,
    });
  });

  it('keeps kinds a bounded set whatever the event name', () => {
    expect(parseServiceMessage({ type: 'core.cache', event: 'x'.repeat(10_000) })).toMatchObject({
      ok: false,
      kind: 'message.event',
    });
    expect(parseServiceMessage('a string')).toMatchObject({ ok: false, kind: 'message', value: 'a string' });
    expect(parseServiceMessage(null)).toMatchObject({ ok: false, kind: 'message' });
    expect(parseServiceMessage({ type: 'other', event: 'hit' })).toMatchObject({
      ok: false,
      kind: 'hit.type',
    });
  });
});
