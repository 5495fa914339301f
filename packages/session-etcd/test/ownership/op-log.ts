// How a worker (and the final drain) writes its history: one JSON line per
// step, appended synchronously, so that a line written is in the file the
// moment the next step begins — a SIGKILL loses nothing already logged, and
// an operation cut short by it simply has no `done` line.
import { appendFileSync } from 'node:fs';
import type { LeaseLine, LifeLine, OpKind, OpLine } from './history.js';

/** The steps of one operation after `invoke`. */
export interface Step {
  /** It got past the fencing check (cleanups). */
  run(): void;
  /** Its caller has the outcome; `at` backdates the line to when the reply came. */
  done(ack: boolean, fields?: Partial<Pick<OpLine, 'resource' | 'token' | 'detail' | 'at'>>): void;
}

type OpFields = Partial<Pick<OpLine, 'token' | 'owner' | 'kept' | 'detail'>>;

export class OpLog {
  private n = 0;

  /**
   * @param file - appended to
   * @param worker - this worker's id
   * @param session - its session id (set once the manager exists)
   */
  constructor(
    private readonly file: string,
    readonly worker: string,
    public session = '-',
  ) {}

  /** Logs `invoke` and returns the operation's later steps. */
  begin(op: OpKind, resource: string, fields: OpFields = {}): Step {
    const base = {
      kind: 'op',
      worker: this.worker,
      session: this.session,
      n: ++this.n,
      op,
      resource,
    } as const;
    this.write({ ...base, phase: 'invoke', at: Date.now(), ...fields });
    return {
      run: () => this.write({ ...base, phase: 'run', at: Date.now() }),
      done: (ack, more = {}) =>
        this.write({ ...base, phase: 'done', at: Date.now(), ...fields, ...more, ack }),
    };
  }

  /** A lease event (see `LeaseLine`). */
  lease(fields: Omit<LeaseLine, 'kind' | 'worker' | 'session' | 'at'>): void {
    this.write({ kind: 'lease', worker: this.worker, session: this.session, at: Date.now(), ...fields });
  }

  /** The worker came up, or leaves by itself. */
  life(kind: LifeLine['kind'], fields: Omit<LifeLine, 'kind' | 'worker' | 'session' | 'at'> = {}): void {
    this.write({ kind, worker: this.worker, session: this.session, at: Date.now(), ...fields });
  }

  private write(line: OpLine | LeaseLine | LifeLine): void {
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }
}
