import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseSessionRecord, parseWith } from './schema.js';

describe('reading untrusted JSON (zod/mini schemas)', () => {
  it("names the field and says why, in zod's English messages", () => {
    expect(parseSessionRecord('{"sessionId":"-x"}')).toEqual({
      ok: false,
      reason: expect.stringMatching(/^schema: sessionId: Invalid string: must match pattern/),
    });
    expect(parseSessionRecord('{nope')).toEqual({ ok: false, reason: expect.stringMatching(/^not JSON: /) });
  });

  it('parseWith takes a full-zod schema too (other stores read their values with theirs)', () => {
    const schema = z.object({ n: z.number().int() });
    expect(parseWith(schema, '{"n":2}')).toEqual({ ok: true, value: { n: 2 } });
    expect(parseWith(schema, '{"n":2.5}')).toEqual({
      ok: false,
      reason: 'schema: n: Invalid input: expected int, received number',
    });
  });
});
