// Cleanup commands: the template of a resource kind (`cleanup.<kind>.command`)
// rendered with the resource's values — every one checked, since they come
// from session records a shared store may hold — and run, with "not found"
// counting as done.
import { execFile } from 'node:child_process';
import { type ResourceRecord, unsafeCommandValue } from '@core/session';
import type { CleanupConfig } from './config.js';
import { SystemManagerError } from './errors.js';

/** What happened to one resource during cleanup. */
export type CleanupOutcome =
  | 'killed' // a process we verified by start time and stopped
  | 'gone' // the process had already exited
  | 'skipped-pid-reused' // the pid now belongs to another process: never killed
  | 'skipped-unverifiable' // no start time was recorded: identity cannot be proven, so not killed
  | 'skipped-other-host' // a process of a session on another machine (fleet registry): its pid means nothing here
  | 'skipped-not-ours' // the process does not carry the dead session's id in its environment: never killed
  | 'deleted' // cleanup command exited 0
  | 'already-gone' // cleanup command said "not found"
  | 'released' // nothing to do (e.g. a port reservation)
  | 'refused' // a value for the command template is unsafe (leading "-", control characters), or it needs a fencing token there is none of: never run
  | 'failed'; // cleanup command failed: the resource may still exist

/** One cleanup action, for logs and `--json` output. */
export interface CleanupAction {
  readonly kind: string;
  readonly id: string;
  readonly outcome: CleanupOutcome;
  readonly detail?: string;
  /** The fencing token of the take-over this cleanup ran under (reaps through the etcd registry only). */
  readonly token?: string;
}

/** A value read from the session store that would change a cleanup command's meaning. */
export class UnsafeCommandValueError extends SystemManagerError<'E_CLEANUP_VALUE_UNSAFE'> {
  /** The placeholder (`id`, `zone`, `metadata.project`, …). */
  readonly placeholder: string;

  /**
   * @param placeholder - the template placeholder
   * @param problem - what is wrong with its value
   */
  constructor(placeholder: string, problem: string) {
    super('E_CLEANUP_VALUE_UNSAFE', `refused to run the cleanup command: {${placeholder}} = ${problem}`);
    this.placeholder = placeholder;
  }
}

/** A cleanup command passes `{token}`, but the cleanup runs under no fencing token: never run with an empty one. */
export class MissingFencingTokenError extends SystemManagerError<'E_CLEANUP_NO_TOKEN'> {
  constructor() {
    super(
      'E_CLEANUP_NO_TOKEN',
      'refused to run the cleanup command: it passes {token}, but this cleanup runs under no fencing token ' +
        '(only a reap through the etcd registry has one; the file and Redis registries, and a manager ' +
        'cleaning up its own resources at shutdown, have none); the resource stays recorded',
    );
  }
}

/**
 * Substitutes `{id}`, `{zone}`, `{kind}`, `{metadata.<key>}` and `{token}` in
 * a command template. Values come from session records, i.e. from untrusted
 * files or a shared store: a value starting with `-` (it would become an
 * option, e.g. `{id}` = `--project=other`) or containing control characters
 * is refused. `{token}` is `fence.token`, the fencing token of the take-over
 * the cleanup runs under (a decimal etcd revision); without one the command
 * is refused, never run with an empty value.
 *
 * @throws UnsafeCommandValueError naming the placeholder; MissingFencingTokenError.
 */
export function renderCommand(
  template: readonly string[],
  resource: ResourceRecord,
  fence: { readonly token?: string | undefined } = {},
): string[] {
  return template.map((part) =>
    part.replace(/\{(id|zone|kind|token|metadata\.[A-Za-z0-9_]+)\}/g, (_, key: string) => {
      let value: string;
      if (key === 'token') {
        if (fence.token === undefined) throw new MissingFencingTokenError();
        if (!/^[0-9]{1,20}$/.test(fence.token))
          throw new UnsafeCommandValueError(
            'token',
            `${JSON.stringify(fence.token)}: not a decimal revision`,
          );
        return fence.token;
      }
      if (key === 'id') value = resource.id;
      else if (key === 'zone') value = resource.zone ?? '';
      else if (key === 'kind') value = resource.kind;
      else {
        const raw = resource.metadata?.[key.slice('metadata.'.length)];
        value = raw === undefined ? '' : String(raw);
      }
      const problem = unsafeCommandValue(value);
      if (problem !== null) throw new UnsafeCommandValueError(key, problem);
      return value;
    }),
  );
}

/**
 * Runs the configured cleanup command of a resource kind (e.g. a VM delete); "not found" counts as done.
 * `signal` (an aborted start) stops a running command with SIGTERM: it then counts as failed, so the
 * resource stays recorded (adopted or left in its session) and a later cleanup runs it again.
 * `token` is the fencing token of the take-over it runs under (`{token}`), when there is one.
 */
export function runCleanupCommand(
  resource: ResourceRecord,
  cleanup: CleanupConfig,
  signal?: AbortSignal,
  token?: string,
): Promise<CleanupAction> {
  const base = { kind: resource.kind, id: resource.id, ...(token === undefined ? {} : { token }) };
  let rendered: string[];
  try {
    rendered = renderCommand(cleanup.command, resource, { token });
  } catch (error) {
    if (error instanceof UnsafeCommandValueError || error instanceof MissingFencingTokenError)
      return Promise.resolve({ ...base, outcome: 'refused', detail: error.message });
    throw error;
  }
  const [command, ...args] = rendered;
  return new Promise((resolve) => {
    execFile(
      command as string,
      args,
      { timeout: cleanup.timeoutMs, encoding: 'utf8', ...(signal ? { signal } : {}) },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ ...base, outcome: 'deleted' });
        if (error.name === 'AbortError')
          return resolve({
            ...base,
            outcome: 'failed',
            detail:
              'aborted: the cleanup command was stopped; the resource stays recorded for a later cleanup',
          });
        if (new RegExp(cleanup.notFoundPattern, 'i').test(output))
          return resolve({ ...base, outcome: 'already-gone' });
        const reason =
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? `command not found: ${command}`
            : output.slice(-500) || error.message;
        resolve({ ...base, outcome: 'failed', detail: reason });
      },
    );
  });
}
