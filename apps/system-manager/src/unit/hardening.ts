// The sandboxing an admin expects of a boot service (systemd.exec(5)): each
// directive on by default with the reason in a comment next to it, each one
// changeable with `unit --set Key=Value`, all of them left out with
// `--no-hardening`. Values are parsed against what systemd accepts, so
// nothing but a known word or number ever reaches the unit file.
import path from 'node:path';
import type { UnitPath } from './path-places.js';
import { comment, pathListWord, UnitSyntaxError } from './systemd-syntax.js';
import { UnitError } from './unit-error.js';

/** Open files per process (soft and hard) the unit sets when not told otherwise. */
export const DEFAULT_LIMIT_NOFILE = 65_536;
/** Below this a Node process with a few services and connections runs out of descriptors. */
const MIN_LIMIT_NOFILE = 1024;

const TRUE_WORDS = new Set(['1', 'yes', 'y', 'true', 't', 'on']);
const FALSE_WORDS = new Set(['0', 'no', 'n', 'false', 'f', 'off']);

// systemd's parse_boolean(), written back in one spelling.
function boolean(value: string): string | null {
  const word = value.toLowerCase();
  if (TRUE_WORDS.has(word)) return 'yes';
  if (FALSE_WORDS.has(word)) return 'no';
  return null;
}

function booleanOr(...words: string[]) {
  return (value: string): string | null =>
    words.includes(value.toLowerCase()) ? value.toLowerCase() : boolean(value);
}

function limitPart(value: string): string | null {
  if (value === 'infinity') return value;
  if (!/^\d{1,10}$/.test(value) || Number(value) < MIN_LIMIT_NOFILE) return null;
  return String(Number(value));
}

// `N`, `infinity` or `soft:hard` (soft not above hard), as systemd.exec(5) LimitNOFILE=.
function limitNofile(value: string): string | null {
  const parts = value.toLowerCase().split(':');
  if (parts.length > 2) return null;
  const [soft, hard] = parts.map(limitPart);
  if (soft === null || soft === undefined || hard === null) return null;
  if (hard === undefined) return soft;
  const rank = (v: string) => (v === 'infinity' ? Number.POSITIVE_INFINITY : Number(v));
  return rank(soft) <= rank(hard) ? `${soft}:${hard}` : null;
}

interface Directive {
  /** The value written when the command line does not change it. */
  readonly protective: string;
  /** What `--set` accepts, for the message when it gets something else. */
  readonly accepts: string;
  readonly parse: (value: string) => string | null;
  /** Why the protective value is there (the comment above it in the unit). */
  readonly why: string;
}

/** A directive `--set` changes. */
export type HardeningKey =
  | 'NoNewPrivileges'
  | 'ProtectSystem'
  | 'ProtectHome'
  | 'PrivateTmp'
  | 'RestrictSUIDSGID'
  | 'LockPersonality'
  | 'LimitNOFILE';

/** The directives `--set` changes, in the order they are written. */
export const HARDENING: Readonly<Record<HardeningKey, Directive>> = {
  NoNewPrivileges: {
    protective: 'yes',
    accepts: 'yes or no',
    parse: boolean,
    why: 'Neither the manager nor a service can gain privileges (sudo, setuid binaries, file capabilities).',
  },
  ProtectSystem: {
    protective: 'strict',
    accepts: 'strict, full, yes or no',
    parse: booleanOr('strict', 'full'),
    why: 'The whole file system is read-only, except the state and runtime directories and ReadWritePaths=.',
  },
  ProtectHome: {
    protective: 'read-only',
    accepts: 'read-only, yes, tmpfs or no',
    parse: booleanOr('read-only', 'tmpfs'),
    why: '/home, /root and /run/user are read-only.',
  },
  PrivateTmp: {
    protective: 'yes',
    accepts: 'yes or no',
    parse: boolean,
    why: "A private /tmp and /var/tmp, emptied when the unit stops: no other program's files, no leftovers.",
  },
  RestrictSUIDSGID: {
    protective: 'yes',
    accepts: 'yes or no',
    parse: boolean,
    why: 'No file with the setuid or setgid bit can be created.',
  },
  LockPersonality: {
    protective: 'yes',
    accepts: 'yes or no',
    parse: boolean,
    why: 'The execution domain (personality(2)) cannot be changed.',
  },
  LimitNOFILE: {
    protective: String(DEFAULT_LIMIT_NOFILE),
    accepts: `a number of at least ${MIN_LIMIT_NOFILE}, infinity, or soft:hard`,
    parse: limitNofile,
    why: 'Open files per process, soft and hard (the manager and every service): a known bound, not the system default.',
  },
};
const KEYS = Object.keys(HARDENING) as HardeningKey[];
/** `--set ReadWritePaths=<dir>` adds a writable path (given again, it adds another). */
const READ_WRITE_PATHS = 'ReadWritePaths';

/** The hardening chosen on the command line. */
export interface UnitHardening {
  /** False with `--no-hardening`: only the directives given with `--set` are written. */
  readonly enabled: boolean;
  /** `--set Key=Value`, each value in the spelling written to the unit. */
  readonly set: Readonly<Partial<Record<HardeningKey, string>>>;
  /** `--set ReadWritePaths=<dir>`, absolute, in the order given. */
  readonly readWritePaths: readonly string[];
}

/** Every directive at its protective value. */
export const DEFAULT_HARDENING: UnitHardening = { enabled: true, set: {}, readWritePaths: [] };

/**
 * The hardening of `unit [--no-hardening] [--set Key=Value]…`. Keys are
 * systemd's names (any case); a later `--set` of a key wins, as in a unit file.
 * @throws UnitError naming the assignment and what it takes instead
 */
export function parseHardening(options: {
  readonly noHardening?: boolean | undefined;
  readonly set?: readonly string[] | undefined;
}): UnitHardening {
  const set: Partial<Record<HardeningKey, string>> = {};
  const readWritePaths: string[] = [];
  for (const assignment of options.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UnitError(`--set ${JSON.stringify(assignment)}: expected Key=Value`);
    const name = assignment.slice(0, eq).trim().toLowerCase();
    const value = assignment.slice(eq + 1).trim();
    if (name === READ_WRITE_PATHS.toLowerCase()) {
      readWritePaths.push(readWritePath(assignment, value));
      continue;
    }
    const key = KEYS.find((k) => k.toLowerCase() === name);
    if (key === undefined)
      throw new UnitError(
        `--set ${JSON.stringify(assignment)}: unit changes only ${[...KEYS, READ_WRITE_PATHS].join(', ')}`,
        ['any other setting goes into a drop-in: sudo systemctl edit system-manager'],
      );
    const parsed = HARDENING[key].parse(value);
    if (parsed === null)
      throw new UnitError(`--set ${JSON.stringify(assignment)}: ${key} takes ${HARDENING[key].accepts}`);
    set[key] = parsed;
  }
  return { enabled: options.noHardening !== true, set, readWritePaths };
}

function readWritePath(assignment: string, value: string): string {
  if (!path.isAbsolute(value))
    throw new UnitError(`--set ${JSON.stringify(assignment)}: ReadWritePaths takes an absolute directory`);
  const normal = path.resolve(value);
  try {
    pathListWord(normal);
  } catch (error) {
    if (error instanceof UnitSyntaxError) throw new UnitError(`--set ReadWritePaths: ${error.message}`);
    throw error;
  }
  return normal;
}

/** What the hardening block depends on besides the command line. */
export interface HardeningContext {
  readonly hardening: UnitHardening;
  /** Paths the manager needs writable whatever ProtectSystem= says (the state directory…), each with why. */
  readonly writable: readonly { readonly path: string; readonly why: string }[];
  /** Services' working directories and commands under /home, /root or /run/user. */
  readonly servicesUnderHome: readonly UnitPath[];
  /** Everything the unit runs or reads under a home directory (ExecStart, the config, the services). */
  readonly unitUnderHome: readonly UnitPath[];
  /** Services' working directories none of the writable paths covers. */
  readonly readOnlyServiceDirs: readonly string[];
}

function chosenValue(key: HardeningKey, context: HardeningContext): string | undefined {
  const chosen = context.hardening.set[key];
  if (chosen !== undefined) return chosen;
  if (!context.hardening.enabled) return undefined;
  // Services living in a home directory are its owner's: making it read-only under them is a surprise, not a safeguard.
  if (key === 'ProtectHome' && context.servicesUnderHome.length > 0) return 'no';
  return HARDENING[key].protective;
}

function listed(paths: readonly UnitPath[]): string {
  return paths.map((p) => `${p.what} ${p.path}`).join(', ');
}

/**
 * The hardening lines of the [Service] section, each with its reason, or one
 * comment when `--no-hardening` left them all out.
 * @throws UnitError when ProtectHome= would hide what the unit needs to run
 */
export function hardeningLines(context: HardeningContext): string[] {
  const values = new Map<HardeningKey, string>();
  for (const key of KEYS) {
    const value = chosenValue(key, context);
    if (value !== undefined) values.set(key, value);
  }
  const protectHome = values.get('ProtectHome');
  if ((protectHome === 'yes' || protectHome === 'tmpfs') && context.unitUnderHome.length > 0)
    throw new UnitError(
      `ProtectHome=${protectHome} hides the home directories, but the unit needs ${listed(context.unitUnderHome)}`,
      [
        'use --set ProtectHome=read-only (readable, not writable), or move them out of /home, /root and /run/user',
      ],
    );

  const lines: string[] = [
    context.hardening.enabled
      ? comment(
          'Sandboxing (systemd.exec(5)): change one with `system-manager unit --set Key=Value`, drop all with --no-hardening.',
        )
      : comment(
          'Sandboxing left out (--no-hardening) but for what --set chose; the README says what each directive guards.',
        ),
  ];
  for (const [key, value] of values) {
    if (key === 'ProtectHome' && context.hardening.set[key] === undefined && value === 'no')
      lines.push(
        comment(
          `ProtectHome=no: services live under a home directory (${listed(context.servicesUnderHome)})${values.get('ProtectSystem') === 'strict' ? '; ProtectSystem=strict still keeps it read-only outside ReadWritePaths=' : ''}.`,
        ),
      );
    else if (value === HARDENING[key].protective) lines.push(comment(HARDENING[key].why));
    else lines.push(comment(`Chosen with --set (the default is ${HARDENING[key].protective}).`));
    lines.push(`${key}=${value}`);
    if (key === 'ProtectSystem') lines.push(...readWriteLines(context, values));
  }
  // Without ProtectSystem= there is no ProtectSystem line to follow; paths given with --set are still written.
  if (!values.has('ProtectSystem')) lines.push(...readWriteLines(context, values));
  return lines;
}

function readWriteLines(context: HardeningContext, values: ReadonlyMap<HardeningKey, string>): string[] {
  const protectsFiles = ['ProtectSystem', 'ProtectHome'].some((k) => {
    const v = values.get(k as HardeningKey);
    return v !== undefined && v !== 'no';
  });
  const lines: string[] = [];
  if (protectsFiles) {
    for (const { path: dir, why } of context.writable)
      lines.push(comment(why), `ReadWritePaths=${pathListWord(dir)}`);
    if (values.get('ProtectSystem') === 'strict' && context.readOnlyServiceDirs.length > 0)
      lines.push(
        comment(
          `The services' working directories stay read-only: ${context.readOnlyServiceDirs.join(', ')}; where a service writes there, add it: system-manager unit --set ReadWritePaths=<dir>`,
        ),
      );
  }
  if (context.hardening.readWritePaths.length > 0)
    lines.push(comment('Writable as well: given with --set ReadWritePaths=.'));
  for (const dir of context.hardening.readWritePaths) lines.push(`ReadWritePaths=${pathListWord(dir)}`);
  return lines;
}
