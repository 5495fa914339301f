import { describe, expect, it } from 'vitest';
import { PACKAGE_NAME } from './index.js';

describe('@core/session-redis', () => {
  it('exports its name', () => {
    expect(PACKAGE_NAME).toBe('@core/session-redis');
  });
});
