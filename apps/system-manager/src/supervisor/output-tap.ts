// Where `logs -f` listens: every service's output passes here while someone
// follows, by service name, so a follower keeps following across a
// service's restarts and a reload's replacement. With no follower the
// services' output does not come here at all (one boolean check per chunk).
// Output the manager does not see pass (a writer process of its own has it)
// comes from a source: started when someone follows its service, stopped
// when the last one leaves.

/** One line of output. */
export interface TappedLine {
  readonly service: string;
  readonly text: string;
}

type Listener = { readonly service: string | null; readonly onLine: (line: TappedLine) => void };
type Source = { readonly service: string; readonly start: () => () => void; stop: (() => void) | undefined };

/** Longest partial line kept while waiting for its newline; longer ones are passed on cut. */
const MAX_PENDING = 64 * 1024;

/** The fan-out of services' output lines to followers. */
export class OutputTap {
  private readonly listeners = new Set<Listener>();
  /** Per service and stream: the unterminated end of the last chunk. */
  private readonly pending = new Map<string, string>();
  private readonly sources = new Set<Source>();

  /** Whether anyone follows (the services' outputs skip the tap otherwise). */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  /** Follows `service` (null: every service); returns the function that stops it. */
  follow(service: string | null, onLine: (line: TappedLine) => void): () => void {
    const listener = { service, onLine };
    this.listeners.add(listener);
    this.updateSources();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.pending.clear();
      this.updateSources();
    };
  }

  /**
   * A service's output read back from where it is written (see the top of
   * this file): `start` begins passing its lines to {@link line} and returns
   * the function that stops it. Returns the function that removes the source.
   */
  addSource(service: string, start: () => () => void): () => void {
    const source: Source = { service, start, stop: undefined };
    this.sources.add(source);
    this.updateSources();
    return () => {
      this.sources.delete(source);
      this.stopSource(source);
    };
  }

  private updateSources(): void {
    for (const source of this.sources) {
      const wanted = [...this.listeners].some((l) => l.service === null || l.service === source.service);
      if (wanted && source.stop === undefined) {
        try {
          source.stop = source.start();
        } catch {
          // A source that cannot start has nothing to pass on; the followers of the others go on.
        }
      } else if (!wanted) this.stopSource(source);
    }
  }

  private stopSource(source: Source): void {
    const stop = source.stop;
    source.stop = undefined;
    try {
      stop?.();
    } catch {
      // Stopping is best effort: the source is dropped either way.
    }
  }

  /** A chunk of a service's output on one stream (split into lines here). */
  chunk(service: string, stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    if (!this.active) return;
    const key = `${stream}\u0000${service}`;
    const text = (this.pending.get(key) ?? '') + chunk.toString();
    const lines = text.split('\n');
    let rest = lines.pop() ?? '';
    if (rest.length > MAX_PENDING) {
      lines.push(rest);
      rest = '';
    }
    if (rest === '') this.pending.delete(key);
    else this.pending.set(key, rest);
    for (const line of lines) this.line(service, line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  /** One whole line of a service's output. */
  line(service: string, text: string): void {
    for (const listener of this.listeners) {
      if (listener.service !== null && listener.service !== service) continue;
      try {
        listener.onLine({ service, text });
      } catch {
        // A follower's failure is its own; the others and the service go on.
      }
    }
  }
}
