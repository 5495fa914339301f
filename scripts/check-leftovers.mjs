#!/usr/bin/env node
// Fails when a process started by the test suite is still running: every
// process a test starts carries CORE_TEST_RUN_TAG in its environment (services
// inherit it from their manager), so a leftover is found however it was
// orphaned. Zombies count as gone (in a container, init may never reap them).
// Usage: node scripts/check-leftovers.mjs [--kill]   (--kill ends them too; the exit is still 1)
import { readdirSync, readFileSync } from 'node:fs';

const VAR = 'CORE_TEST_RUN_TAG=';
const kill = process.argv.includes('--kill');

function read(file) {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

const leftovers = [];
for (const entry of readdirSync('/proc')) {
  if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
  const environ = read(`/proc/${entry}/environ`);
  const tag = environ?.split('\0').find((v) => v.startsWith(VAR));
  if (!tag) continue;
  const stat = read(`/proc/${entry}/stat`) ?? '';
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X' || state === '') continue;
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 4).split(' ')[0]);
  const cmdline = (read(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim();
  leftovers.push({ pid: Number(entry), ppid, tag: tag.slice(VAR.length), cmdline });
}

if (leftovers.length === 0) {
  console.log('check-leftovers: no process of the test suite is still running');
  process.exit(0);
}
console.error(
  `check-leftovers: ${leftovers.length} process(es) started by the test suite are still running:`,
);
for (const l of leftovers)
  console.error(`  pid ${l.pid} (parent ${l.ppid}) tag ${l.tag}: ${l.cmdline.slice(0, 200)}`);
if (kill) {
  for (const l of leftovers) {
    try {
      process.kill(l.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  console.error('check-leftovers: killed them');
}
process.exit(1);
