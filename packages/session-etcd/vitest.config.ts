import { definePackageProject } from '@tooling/vitest-config';

export default definePackageProject('@core/session-etcd');
