import type { UserProjectConfigExport, UserWorkspaceConfig } from 'vitest/config';

/** Shared per-package vitest project: tests run on TypeScript source of sibling packages. */
export declare function definePackageProject(
  name: string,
  overrides?: UserProjectConfigExport,
): UserWorkspaceConfig;
