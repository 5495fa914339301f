// The last lines of a service's log file (and, when it holds fewer, of the
// rotated ones before it), read backwards in blocks: the cost is that of the
// lines asked for, not of the file. Opened with O_NOFOLLOW like the writer.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';

const BLOCK = 64 * 1024;

/** The last `count` lines of `file`, then of `file.1` … `file.<keepFiles>` while more are wanted (oldest first). */
export async function tailOfLogFiles(file: string, keepFiles: number, count: number): Promise<string[]> {
  let lines: string[] = [];
  for (let n = 0; n <= keepFiles && lines.length < count; n++) {
    const older = await tailOfFile(n === 0 ? file : `${file}.${n}`, count - lines.length);
    if (older === null) break;
    lines = [...older, ...lines];
  }
  return lines;
}

/** The last `count` lines of one file, or null when it does not exist. */
async function tailOfFile(file: string, count: number): Promise<string[] | null> {
  if (count <= 0) return [];
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    let position = size;
    let text = '';
    // Newlines seen so far bound the lines found: one more than wanted, so the first is whole.
    while (position > 0 && countNewlines(text) <= count) {
      const length = Math.min(BLOCK, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, position);
      text = buffer.toString('utf8') + text;
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } finally {
    await handle.close();
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
