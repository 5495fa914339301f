// The terminal while `top` runs: the alternate screen (what was on the
// terminal comes back when it ends), no cursor, raw keys. `restore` undoes
// all of it, once, synchronously — it is also what runs from an `exit`
// handler, where nothing asynchronous would happen any more.
import { writeSync } from 'node:fs';
import type tty from 'node:tty';

const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[?25h\x1b[?1049l';

/** The terminal `top` draws on. */
export interface Screen {
  /** Columns and rows now. */
  size(): { width: number; height: number };
  /** Shows `lines` (one frame); a frame equal to the last one is not written again. Returns whether it wrote. */
  draw(lines: readonly string[]): boolean;
  /** The next frame is written whole, on a cleared screen (after a resize, or coming back). */
  invalidate(): void;
  /** Gives the terminal back for a while (before the process stops itself: Ctrl-Z, SIGTSTP). */
  suspend(): void;
  /** Takes it again (SIGCONT), the next frame drawn whole. */
  resume(): void;
  /** Leaves the alternate screen, shows the cursor, ends raw mode. Idempotent, final. */
  restore(): void;
}

/** Takes over the terminal of `input` and `output` (both TTYs). */
export function openScreen(input: tty.ReadStream, output: tty.WriteStream & { readonly fd: number }): Screen {
  let last = '';
  let clear = false;
  let suspended = false;
  let restored = false;
  const write = (text: string): boolean => {
    // Synchronous: a frame is never interleaved with the restore, and the restore happens even at exit.
    const bytes = Buffer.from(text);
    let offset = 0;
    let retries = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(output.fd, bytes, offset);
      } catch (error) {
        // A full terminal (EAGAIN) is retried a little; one that went away (EIO, EPIPE) is given up.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && retries++ < 1_000) continue;
        return false;
      }
    }
    return true;
  };
  const takeOver = () => {
    write(ENTER);
    input.setRawMode(true);
  };
  const giveBack = () => {
    write(LEAVE);
    try {
      input.setRawMode(false);
    } catch {
      // The terminal is gone already.
    }
  };
  takeOver();
  input.setEncoding('utf8');
  input.resume();
  return {
    size: () => ({ width: output.columns || 80, height: output.rows || 24 }),
    draw: (lines) => {
      // Each line ends with "erase to end of line"; raw mode does no NL → CR-NL, so CR-NL is written.
      const frame = `\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\r\n')}\x1b[J`;
      if (restored || suspended || frame === last) return false;
      const written = write(clear ? `\x1b[2J${frame}` : frame);
      last = written ? frame : '';
      if (written) clear = false;
      return written;
    },
    invalidate: () => {
      last = '';
      clear = true;
    },
    suspend: () => {
      if (restored || suspended) return;
      suspended = true;
      giveBack();
    },
    resume: () => {
      if (restored || !suspended) return;
      suspended = false;
      try {
        takeOver();
      } catch {
        // No terminal to come back to: the next draw finds out.
      }
      last = '';
      clear = true;
    },
    restore: () => {
      if (restored) return;
      restored = true;
      if (!suspended) giveBack();
      input.pause();
    },
  };
}
