import { describe, expect, it } from 'vitest';
import { PACKAGE_NAME } from './index.js';

describe('@core/ports', () => {
  it('exports its name', () => {
    expect(PACKAGE_NAME).toBe('@core/ports');
  });
});
