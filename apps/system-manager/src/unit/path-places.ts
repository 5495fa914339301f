// Where a path of the unit lies: under a temp directory (refused: emptied at
// reboot, and hidden from the service by PrivateTmp=yes) or under a home
// directory (which ProtectHome= makes read-only or hides).
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnitError } from './unit-error.js';

/** The trees ProtectHome= acts on (systemd.exec(5)). */
export const HOME_ROOTS: readonly string[] = ['/home', '/root', '/run/user'];

/** A path the unit writes or runs, with what it is for (named in messages). */
export interface UnitPath {
  readonly what: string;
  readonly path: string;
}

/** /tmp, /var/tmp and the OS temp dir ($TMPDIR); `/` is never taken as one, whatever $TMPDIR says. */
export function temporaryDirectories(osTemp = os.tmpdir()): string[] {
  return [...new Set(['/tmp', '/var/tmp', osTemp])].filter(
    (d) => path.isAbsolute(d) && path.resolve(d) !== '/',
  );
}

function isWithin(file: string, root: string): boolean {
  const relative = path.relative(root, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

// A symlink into /tmp is as volatile as a path in it, so both the path and its target count. For a
// path not there (yet), its nearest existing ancestor is resolved and the rest appended.
function resolvedForms(file: string): string[] {
  const absolute = path.resolve(file);
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      return [absolute, path.join(realpathSync.native(existing), ...rest)];
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return [absolute];
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
}

/** The first of `roots` (or a root's real path) that holds `file` or its real path, or null. */
export function rootHolding(file: string, roots: readonly string[]): string | null {
  const candidates = roots.flatMap((root) => resolvedForms(root).map((form) => [root, form] as const));
  for (const form of resolvedForms(file))
    for (const [root, real] of candidates) if (isWithin(form, real)) return root;
  return null;
}

/** The paths under one of `roots`, each with the root it lies in. */
export function pathsUnder(
  paths: readonly UnitPath[],
  roots: readonly string[],
): (UnitPath & { root: string })[] {
  return paths.flatMap((p) => {
    const root = rootHolding(p.path, roots);
    return root === null ? [] : [{ ...p, root }];
  });
}

/**
 * Refuses paths under a temp directory: a unit pointing there works until the
 * next reboot (or the next tmpfiles clean-up), and with PrivateTmp=yes the
 * service does not even see /tmp and /var/tmp of the host.
 */
export function refuseTemporaryPaths(paths: readonly UnitPath[], roots: readonly string[]): void {
  const found = pathsUnder(paths, roots);
  if (found.length === 0) return;
  throw new UnitError(
    `the unit would use paths under a temp directory (${[...new Set(found.map((p) => p.root))].join(', ')}), which is emptied at reboot (and PrivateTmp=yes gives the service a /tmp and /var/tmp of its own)`,
    [
      ...found.map((p) => `${p.what}: ${p.path}`),
      'move them to a lasting place (the config to /etc/system-manager/, services to /srv/<app> or /opt/<app>,',
      'system-manager installed globally; unset CORE_SESSION_DIR and the unit uses /run/system-manager/sessions),',
      'or pass --allow-temp-paths for a throw-away unit (a test or a demo)',
    ],
  );
}
