// Two simulated hosts on one machine: a worker reports another hostname,
// so its host identity (a digest of hostname, machine id, boot id and pid
// namespace) differs from the other host's. Between hosts no pid can be
// checked and the lease alone decides, as between real machines; within a
// host the pid decides, as it does for real. Must run before the session
// manager first reads the identity (it is read once, on first use).
import { createRequire, syncBuiltinESMExports } from 'node:module';

/** Makes `os.hostname()` answer `name` in this process, for CommonJS and ES module callers alike. */
export function simulateHost(name: string): void {
  const os = createRequire(import.meta.url)('node:os') as { hostname: () => string };
  os.hostname = () => name;
  syncBuiltinESMExports();
}
