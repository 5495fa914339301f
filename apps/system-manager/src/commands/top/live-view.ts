// The loop of `top`: asks the manager for its `overview` every second, reads
// each service process's CPU time and memory from /proc, keeps the selected
// service's last lines, acts on keys, and redraws — at most 4 times a second
// and only when the frame changed. When the manager stops answering the view
// stays (its figures marked as the last known) and a manager is looked for
// again every second; `q` quits at any time.
import path from 'node:path';
import type tty from 'node:tty';
import * as z from 'zod/mini';
import { findManager, send } from '../../control-socket/client.js';
import { overviewSchema } from '../../control-socket/overview.js';
import { readProcessUsage } from '../proc-stats.js';
import { parseKeys, type TopKey } from './keys.js';
import { advance, type TopModel } from './model.js';
import { render } from './render.js';
import { openScreen } from './screen.js';

/** How often the manager is asked. */
const POLL_MS = 1_000;
/** At most this often a frame is drawn (4 per second). */
const MIN_FRAME_MS = 250;
/** How long one `overview` or `logs` answer may take. */
const READ_TIMEOUT_MS = 2_000;
/** How long a restart, stop or start may take (a restart waits for the service's health). */
const ACTION_TIMEOUT_MS = 10 * 60_000;
/** Most of the selected service's last lines fetched (never more than the terminal has rows). */
const LOG_LINES = 100;

const logLinesSchema = z
  .array(z.object({ service: z.string(), text: z.string().check(z.maxLength(64 * 1024)) }))
  .check(z.maxLength(LOG_LINES));

// What restart, stop and start answer: one outcome per service named (the manager's, checked all the same).
const outcomesSchema = z.array(
  z.object({
    service: z.string(),
    outcome: z.string().check(z.maxLength(32)),
    error: z.optional(z.object({ message: z.string().check(z.maxLength(64 * 1024)) })),
  }),
);

const ACTIONS = {
  restart: ['restart', 'restarting'],
  stop: ['stop', 'stopping'],
  start: ['start', 'starting'],
} as const;

/** Where `top` runs. */
export interface LiveViewOptions {
  /** The manager's control socket. */
  readonly socket: string;
  /** `--session`, to find the manager again after it went away (else the only one answering). */
  readonly session: string | undefined;
  readonly input: tty.ReadStream;
  readonly output: tty.WriteStream & { readonly fd: number };
}

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs the view until `q` or Ctrl-C (resolves 0) or SIGTERM, SIGHUP, SIGINT
 * (resolves 128 + the signal's number); rejects with an unexpected error.
 * The terminal is restored in every case.
 */
export function runLiveView(options: LiveViewOptions): Promise<number> {
  const { input, output } = options;
  let socket = options.socket;
  let model: TopModel | null = null;
  let selectedName: string | null = null;
  let logLines: readonly string[] = [];
  let message: string | null = null;
  let connected = true;
  let polling = false;
  let acting = false;
  // No frame yet: the first is drawn at once (performance.now() counts from the process's start, not from 0 here).
  let lastFrameAt = Number.NEGATIVE_INFINITY;
  let frameTimer: NodeJS.Timeout | undefined;
  let ended = false;
  const inFlight = new AbortController();
  const screen = openScreen(input, output);

  return new Promise<number>((resolve, reject) => {
    const end = (outcome: { code: number } | { error: unknown }) => {
      if (ended) return;
      ended = true;
      clearInterval(pollTimer);
      clearTimeout(frameTimer);
      inFlight.abort();
      input.off('data', onData);
      input.off('end', onEnd);
      output.off('resize', onResize);
      process.off('SIGTSTP', onStop);
      process.off('SIGCONT', onContinue);
      output.off('error', onEnd);
      for (const signal of Object.keys(SIGNAL_NUMBERS)) process.off(signal, onSignal);
      process.off('exit', screen.restore);
      process.off('uncaughtExceptionMonitor', screen.restore);
      screen.restore();
      if ('code' in outcome) resolve(outcome.code);
      else reject(outcome.error);
    };
    // Every callback below runs through this: an unexpected error ends the view with the terminal restored.
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void | Promise<void>) =>
      (...args: A): void => {
        try {
          const result = fn(...args);
          if (result instanceof Promise) result.catch((error: unknown) => end({ error }));
        } catch (error) {
          end({ error });
        }
      };

    const selectedIndex = (): number => {
      const rows = model?.rows ?? [];
      const at = rows.findIndex((r) => r.name === selectedName);
      return Math.max(at, 0);
    };

    const draw = () => {
      frameTimer = undefined;
      if (ended) return;
      lastFrameAt = performance.now();
      const { width, height } = screen.size();
      screen.draw(
        render(
          {
            session: path.basename(socket, '.sock'),
            rows: model?.rows ?? [],
            selected: selectedIndex(),
            logLines,
            message,
            connected,
            clock: new Date().toTimeString().slice(0, 8),
          },
          width,
          height,
        ),
      );
    };
    // Coalesced: whatever changes within a quarter second is drawn once.
    function schedule(): void {
      if (frameTimer !== undefined || ended) return;
      frameTimer = setTimeout(guarded(draw), Math.max(0, lastFrameAt + MIN_FRAME_MS - performance.now()));
    }

    const fetchLogs = async () => {
      const name = model?.rows[selectedIndex()]?.name;
      if (name === undefined) {
        logLines = [];
        return;
      }
      const answer = await send(
        socket,
        {
          command: 'logs',
          service: name,
          lines: Math.max(1, Math.min(LOG_LINES, screen.size().height)),
          follow: false,
        },
        READ_TIMEOUT_MS,
        { signal: inFlight.signal },
      );
      const parsed = logLinesSchema.safeParse(answer);
      // Only if the selection did not move meanwhile.
      if (name === model?.rows[selectedIndex()]?.name)
        logLines = parsed.success
          ? parsed.data.map((l) => l.text)
          : ['(the manager sent lines not understood)'];
    };

    const poll = async () => {
      if (polling || ended) return;
      polling = true;
      try {
        const answer = await send(socket, { command: 'overview' }, READ_TIMEOUT_MS, {
          signal: inFlight.signal,
        });
        if (ended) return;
        const parsed = overviewSchema.safeParse(answer);
        if (!parsed.success) {
          message = "the manager's overview is not understood (a different version?)";
          return;
        }
        model = advance(model, parsed.data, readProcessUsage, performance.now());
        selectedName ??= model.rows[0]?.name ?? null;
        if (!connected) message = null;
        connected = true;
        // The table is drawn without waiting for the lines (the first frame comes one answer sooner).
        schedule();
        await fetchLogs();
      } catch (error) {
        if (ended) return;
        if (connected)
          message = `manager gone (${(error as Error).message}): looking for one every second, q quits`;
        connected = false;
        try {
          // A manager started again has a new session, hence a new socket.
          socket = await findManager(options.session);
        } catch {
          // Still none: the next poll looks again.
        }
      } finally {
        polling = false;
        schedule();
      }
    };

    const act = async (key: keyof typeof ACTIONS) => {
      const name = model?.rows[selectedIndex()]?.name;
      if (name === undefined) return;
      if (!connected) {
        message = 'no manager answers: nothing to act on';
        return;
      }
      if (acting) {
        message = 'one action at a time: the last one is still under way';
        return;
      }
      const [command, doing] = ACTIONS[key];
      acting = true;
      message = `${doing} ${name}…`;
      schedule();
      try {
        const answer = await send(socket, { command, services: [name] }, ACTION_TIMEOUT_MS, {
          signal: inFlight.signal,
        });
        if (ended) return;
        const parsed = outcomesSchema.safeParse(answer);
        const outcome = parsed.success ? parsed.data[0] : undefined;
        message =
          outcome === undefined
            ? `${command} ${name}: the manager's answer is not understood`
            : `${name}: ${outcome.outcome.replace('-', ' ')}${outcome.error ? ` (${outcome.error.message})` : ''}`;
      } catch (error) {
        message = `${command} ${name}: ${(error as Error).message}`;
      } finally {
        acting = false;
      }
      await poll();
    };

    const onKey = (key: TopKey) => {
      const rows = model?.rows ?? [];
      const move = (to: number) => {
        const row = rows[Math.max(0, Math.min(rows.length - 1, to))];
        if (row === undefined || row.name === selectedName) return;
        selectedName = row.name;
        logLines = [];
        void fetchLogs()
          .catch(() => {
            // The next poll tells whether the manager is gone.
          })
          .finally(schedule);
      };
      switch (key) {
        case 'quit':
          return end({ code: 0 });
        case 'up':
          return move(selectedIndex() - 1);
        case 'down':
          return move(selectedIndex() + 1);
        case 'home':
          return move(0);
        case 'end':
          return move(rows.length - 1);
        case 'suspend':
          return onStop();
        default:
          void act(key).catch((error: unknown) => end({ error }));
      }
    };

    const onData = guarded((data: string | Buffer) => {
      for (const key of parseKeys(String(data))) {
        if (ended) return;
        onKey(key);
      }
      schedule();
    });
    const onEnd = () => end({ code: 0 });
    const onResize = () => {
      screen.invalidate();
      schedule();
    };
    // Stopped (Ctrl-Z, SIGTSTP): the terminal is given back first, as the shell expects; SIGCONT takes it again.
    function onStop(): void {
      screen.suspend();
      process.kill(process.pid, 'SIGSTOP');
    }
    const onContinue = () => {
      screen.resume();
      schedule();
    };
    const onSignal = (signal: NodeJS.Signals) =>
      end({ code: 128 + SIGNAL_NUMBERS[signal as keyof typeof SIGNAL_NUMBERS] });

    input.on('data', onData);
    input.once('end', onEnd);
    output.on('resize', onResize);
    process.on('SIGTSTP', onStop);
    process.on('SIGCONT', onContinue);
    output.once('error', onEnd);
    for (const signal of Object.keys(SIGNAL_NUMBERS)) process.on(signal, onSignal);
    // The last resort: whatever ends the process — an exit, an error nothing caught — the terminal is given back.
    process.once('exit', screen.restore);
    process.once('uncaughtExceptionMonitor', screen.restore);
    const pollTimer = setInterval(guarded(poll), POLL_MS);
    guarded(poll)();
  });
}
