import { Redis } from 'ioredis';

const [url, tag, countText] = process.argv.slice(2) as [string, string, string];
const r = new Redis(url);
await r.ping();
const n = Number(countText);
process.stdout.write('ready\n');
await new Promise<void>((res) => process.stdin.once('data', () => res()));
const t = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  await r.set(`floor:${tag}:${i}`, 'x'.repeat(600));
  await r.del(`floor:${tag}:${i}`);
}
process.stdout.write(`done ${Number(process.hrtime.bigint() - t) / 1e6}\n`);
r.disconnect();
