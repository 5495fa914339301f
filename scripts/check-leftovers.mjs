#!/usr/bin/env node
// Fails when the test suite left something behind.
//
// Processes: every process a test starts carries CORE_TEST_RUN_TAG in its
// environment (services inherit it from their manager), so a leftover is found
// however it was orphaned. Zombies count as gone (in a container, init may
// never reap them).
//
// Temp entries (with --since): every test removes what it creates in the OS
// temp dir (os.tmpdir(): $TMPDIR, else /tmp), also when it fails — each
// package's test/helpers.ts has a tempDir() that registers the removal with
// onTestFinished. `--snapshot <file>` records the temp dir's entries (name,
// inode, type) just before the run; `--since <file>` then lists every entry that
// is there now and was not then (a name that is new, or an old name on a new
// inode), with its type, size and age. Keep <file> outside the temp dir (CI
// uses node_modules/.cache/); if it is inside, it is not counted.
// Ignored on purpose, each narrowly:
//   tsx-<uid>/  tsx's on-disk transform cache (tsx reads `os.tmpdir()/tsx-<euid>`):
//               every test child started with `--import tsx` shares it, and tsx
//               keeps it between runs by design. The one test that runs tsx as
//               another uid (nobody) turns that uid's cache off (TSX_DISABLE_CACHE).
// Vitest's own scratch directory (`<21-char nanoid>/ssr/…`) is not ignored: vitest
// removes it when it closes, so one left means a vitest run was killed.
//
// Usage:
//   node scripts/check-leftovers.mjs --snapshot <file>       record the temp dir; exit 0
//   node scripts/check-leftovers.mjs [--since <file>] [--kill]
//     checks processes, and with --since the temp dir too; exit 0 when nothing is
//     left, 1 when something is (--kill also ends those processes and removes those
//     temp entries; the exit is still 1), 2 on bad usage.
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const VAR = 'CORE_TEST_RUN_TAG=';

function usage(message) {
  console.error(`check-leftovers: ${message}`);
  console.error('usage: node scripts/check-leftovers.mjs --snapshot <file> | [--since <file>] [--kill]');
  process.exit(2);
}

function parseArgs(argv) {
  const options = { snapshot: null, since: null, kill: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--kill') options.kill = true;
    else if (arg === '--snapshot' || arg === '--since') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) usage(`${arg} needs a file path`);
      options[arg.slice(2)] = value;
    } else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (options.snapshot !== null && (options.since !== null || options.kill))
    usage('--snapshot records only; check with --since (and --kill) in a later run');
  return options;
}

function read(file) {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

function typeOf(stat) {
  if (stat.isDirectory()) return 'directory';
  if (stat.isFile()) return 'file';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isSocket()) return 'socket';
  if (stat.isFIFO()) return 'fifo';
  return 'other';
}

/** The temp dir's entries now: name → { ino, type, stat }. */
function tempEntries(dir) {
  const entries = new Map();
  for (const name of readdirSync(dir)) {
    try {
      const stat = lstatSync(path.join(dir, name));
      entries.set(name, { ino: stat.ino, type: typeOf(stat), stat });
    } catch {
      // Removed between readdir and lstat: not there.
    }
  }
  return entries;
}

/** Ignored temp entries (see the header): name → reason. */
function ignored(name, type) {
  const uid = process.getuid?.();
  if (type === 'directory' && uid !== undefined && name === `tsx-${uid}`) return 'tsx transform cache';
  return null;
}

/** Bytes and files under a directory (stops counting after 10 000 entries). */
function measure(dir) {
  let bytes = 0;
  let files = 0;
  let more = false;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    let names;
    try {
      names = readdirSync(current);
    } catch {
      continue; // not ours to read
    }
    for (const name of names) {
      if (files >= 10_000) {
        more = true;
        break;
      }
      try {
        const stat = lstatSync(path.join(current, name));
        if (stat.isDirectory()) stack.push(path.join(current, name));
        else {
          files++;
          bytes += stat.size;
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return { bytes, files: more ? `${files}+` : String(files) };
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function formatAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function describeEntry(dir, name, { type, stat }) {
  const created = stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.mtimeMs;
  const age = `${formatAge(Date.now() - created)} old`;
  const owner = stat.uid === process.getuid?.() ? '' : `, owner uid ${stat.uid}`;
  if (type === 'directory') {
    const { bytes, files } = measure(path.join(dir, name));
    return `${name}/  directory, ${files} file(s), ${formatBytes(bytes)}, ${age}${owner}`;
  }
  return `${name}  ${type}, ${formatBytes(stat.size)}, ${age}${owner}`;
}

function takeSnapshot(file) {
  const dir = os.tmpdir();
  const entries = [...tempEntries(dir)].map(([name, { ino, type }]) => ({ name, ino, type }));
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ tmpdir: dir, takenAt: new Date().toISOString(), entries })}\n`);
  console.log(`check-leftovers: recorded ${entries.length} entries of ${dir} in ${file}`);
}

/** Temp entries created since the snapshot in `file` (and not ignored). */
function newTempEntries(file) {
  let snapshot;
  try {
    snapshot = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    usage(
      `cannot read the snapshot ${file} (${error.code ?? error.message}): take it before the tests with --snapshot ${file}`,
    );
  }
  const dir = os.tmpdir();
  if (snapshot.tmpdir !== dir)
    usage(`the snapshot ${file} is of ${snapshot.tmpdir}, but the temp dir is now ${dir} (TMPDIR changed?)`);
  const before = new Map(snapshot.entries.map((e) => [e.name, e.ino]));
  const self = path.resolve(file);
  const found = [];
  for (const [name, entry] of tempEntries(dir)) {
    if (path.join(dir, name) === self) continue;
    if (before.get(name) === entry.ino) continue;
    if (ignored(name, entry.type)) continue;
    found.push({ name, entry, replaced: before.has(name) });
  }
  return { dir, takenAt: snapshot.takenAt, found };
}

function leftoverProcesses() {
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
  return leftovers;
}

const options = parseArgs(process.argv.slice(2));
if (options.snapshot !== null) {
  takeSnapshot(options.snapshot);
  process.exit(0);
}

let failed = false;
const processes = leftoverProcesses();
if (processes.length === 0) {
  console.log('check-leftovers: no process of the test suite is still running');
} else {
  failed = true;
  console.error(
    `check-leftovers: ${processes.length} process(es) started by the test suite are still running:`,
  );
  for (const l of processes)
    console.error(`  pid ${l.pid} (parent ${l.ppid}) tag ${l.tag}: ${l.cmdline.slice(0, 200)}`);
  if (options.kill) {
    for (const l of processes) {
      try {
        process.kill(l.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    console.error('check-leftovers: killed them');
  }
}

if (options.since !== null) {
  const { dir, takenAt, found } = newTempEntries(options.since);
  if (found.length === 0) {
    console.log(`check-leftovers: nothing left in ${dir} since the snapshot of ${takenAt}`);
  } else {
    failed = true;
    console.error(
      `check-leftovers: ${found.length} entr${found.length === 1 ? 'y' : 'ies'} created in ${dir} since the snapshot of ${takenAt} (before the tests) are still there:`,
    );
    for (const { name, entry, replaced } of found.sort((a, b) => a.name.localeCompare(b.name)))
      console.error(
        `  ${describeEntry(dir, name, entry)}${replaced ? ' (replaces one of the same name)' : ''}`,
      );
    console.error(
      'check-leftovers: a test must remove what it creates, also when it fails (tempDir() in the test helpers, onTestFinished, afterAll)',
    );
    if (options.kill) {
      for (const { name } of found) {
        try {
          rmSync(path.join(dir, name), { recursive: true, force: true });
        } catch (error) {
          console.error(`check-leftovers: could not remove ${name}: ${error.message}`);
        }
      }
      console.error('check-leftovers: removed them');
    }
  }
}

process.exit(failed ? 1 : 0);
