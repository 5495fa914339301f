import { describe, expect, it } from 'vitest';
import { BIN_NAME, BOOT_PORTS, bootSummary } from './index.js';

describe('system-manager', () => {
  it('prints this process and every default port in the boot summary', () => {
    const summary = bootSummary();
    expect(summary).toContain(`${BIN_NAME}: pid ${process.pid}`);
    for (const [name, port] of Object.entries(BOOT_PORTS))
      expect(summary).toMatch(new RegExp(`${name}\\s+${port}`));
  });
});
