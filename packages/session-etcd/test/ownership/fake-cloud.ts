// A fake cloud for the ownership run: the VMs the workers create and the
// reapers delete, on a loopback HTTP server in the test process. A delete
// carries the reaper's fencing token and is refused when the VM has already
// seen a higher one — the label precondition the README prescribes for
// cleanup scripts, because a reaper that passed `fencedCleanup`'s check and
// then stalled can still reach the VM after a newer reaper did. Every
// request is logged in the order applied: the ground truth of what happened
// to each VM. The worker side of the protocol (`cloudRequest`) is here too.
import { createServer, request } from 'node:http';
import type { CloudEvent } from './history.js';

export interface FakeCloud {
  readonly url: string;
  /** What reached the cloud, in order. */
  readonly events: readonly CloudEvent[];
  close(): Promise<void>;
}

/** What a worker asks. */
export interface CloudRequest {
  readonly op: 'create' | 'delete';
  readonly vm: string;
  /** delete: the fencing token (decimal). */
  readonly token: string | null;
  /** The asking session. */
  readonly by: string;
}

/** Starts the cloud on a free loopback port. */
export async function startFakeCloud(): Promise<FakeCloud> {
  const events: CloudEvent[] = [];
  const vms = new Map<string, { exists: boolean; fence: bigint | null }>();
  const apply = (ask: CloudRequest): CloudEvent['result'] => {
    const vm = vms.get(ask.vm) ?? { exists: false, fence: null };
    vms.set(ask.vm, vm);
    if (ask.op === 'create') {
      vm.exists = true;
      return 'created';
    }
    const token = BigInt(ask.token ?? '0');
    if (vm.fence !== null && token < vm.fence) return 'superseded';
    vm.fence = token;
    if (!vm.exists) return 'gone';
    vm.exists = false;
    return 'deleted';
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      try {
        const ask = JSON.parse(body) as CloudRequest;
        const result = apply(ask);
        events.push({ at: Date.now(), vm: ask.vm, op: ask.op, token: ask.token, by: ask.by, result });
        res.end(JSON.stringify({ result }));
      } catch (error) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: String(error) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends one request to the cloud at `url`. @throws when it does not answer within `timeoutMs`. */
export function cloudRequest(
  url: string,
  ask: CloudRequest,
  timeoutMs = 5_000,
): Promise<CloudEvent['result']> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a kept-alive socket the server is closing would fail the request.
    const req = request(url, { method: 'POST', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => {
        const reply = JSON.parse(body) as { result?: CloudEvent['result']; error?: string };
        if (reply.result) resolve(reply.result);
        else reject(new Error(`cloud: ${reply.error}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`cloud: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(ask));
  });
}
