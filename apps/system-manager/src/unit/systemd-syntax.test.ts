import { describe, expect, it } from 'vitest';
import {
  comment,
  environmentWord,
  execLine,
  parseEnvironment,
  parseExecLine,
  parsePathList,
  pathListWord,
  plainPath,
  quoteExecWord,
  splitWords,
  UnitSyntaxError,
} from './systemd-syntax.js';

// Paths an operator really has, and the characters systemd rewrites.
const NASTY = [
  '/etc/sm/my conf.json',
  '/srv/100%/config.json',
  '/srv/%h/%n/%%',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${USER} is the point
  '/opt/$HOME/${USER}/$$/x$',
  `/data/it's "quoted"/a\\b`,
  '/tmp/tab\there',
  '/tmp/semi ; colon',
  ';',
  '/tmp/ünïcødé ☃',
  '--config=/x y',
  '',
];

describe('systemd quoting (systemd.syntax(7), systemd.service(5) command lines)', () => {
  it('round-trips every argument through the parser of systemd rules', () => {
    for (const arg of NASTY) {
      const line = execLine('/usr/bin/node', ['/opt/sm/cli.js', 'start', '--config', arg]);
      expect(parseExecLine(line)).toEqual(['/usr/bin/node', '/opt/sm/cli.js', 'start', '--config', arg]);
    }
  });

  it('round-trips executables with spaces, % and $ (no $ expansion in the executable)', () => {
    for (const exe of ['/opt/my node/bin/node', '/opt/n%d/node', '/opt/$x/node']) {
      expect(parseExecLine(execLine(exe, ['a']))).toEqual([exe, 'a']);
    }
    // systemd itself refuses quotes and backslashes in an executable's path: say so instead of writing a dead unit.
    expect(() => execLine(`/opt/it's/node`, [])).toThrow(/quotes or a backslash/);
    expect(quoteExecWord('/opt/$x', { executable: true })).toBe('"/opt/$x"');
    expect(quoteExecWord('/opt/$x')).toBe('"/opt/$$x"');
  });

  it('the parser catches what the old generator got wrong', () => {
    // Unquoted path with a space: two arguments, exactly the reported `unexpected argument 'conf.json'`.
    expect(parseExecLine('/usr/bin/node cli.js start --config /etc/sm/my conf.json')).toEqual([
      '/usr/bin/node',
      'cli.js',
      'start',
      '--config',
      '/etc/sm/my',
      'conf.json',
    ]);
    expect(() => parseExecLine('/usr/bin/node --config /srv/100%/c.json')).toThrow(UnitSyntaxError);
    expect(() => parseExecLine('/usr/bin/node "$HOME"')).toThrow(/would be expanded/);
    expect(() => parseExecLine('/usr/bin/true ; /usr/bin/false')).toThrow(/another command/);
  });

  it('splits words like extract_first_word: quotes, C escapes, adjacent quoted parts', () => {
    expect(splitWords(`a "b c" 'd e' f\\x41 "g\\"h" i"j k"`)).toEqual([
      'a',
      'b c',
      'd e',
      'fA',
      'g"h',
      'ij k',
    ]);
    expect(() => splitWords('"open')).toThrow(/unterminated/);
  });

  it('round-trips Environment= assignments (where $ is literal)', () => {
    for (const value of NASTY) {
      expect(parseEnvironment(environmentWord('CORE_SESSION_DIR', value))).toEqual({
        CORE_SESSION_DIR: value,
      });
    }
    expect(() => environmentWord('BAD-NAME', 'x')).toThrow(UnitSyntaxError);
  });

  it('WorkingDirectory= paths: % escaped, unrepresentable ones refused', () => {
    expect(plainPath('/srv/100% sure')).toBe('/srv/100%% sure');
    expect(() => plainPath('relative')).toThrow(/absolute/);
    expect(() => plainPath('/srv/trailing ')).toThrow(UnitSyntaxError);
    expect(() => plainPath('/srv/new\nline')).toThrow(UnitSyntaxError);
  });

  it('ReadWritePaths= entries: one word each, read back whole; unrepresentable ones refused', () => {
    const paths = ['/var/lib/system-manager', '/srv/my data', `/srv/it's "q"`, '/srv/100%/%h', '/srv/$HOME'];
    const line = paths.map(pathListWord).join(' ');
    expect(parsePathList(line)).toEqual(paths);
    expect(pathListWord('/var/lib/system-manager')).toBe('/var/lib/system-manager');
    // A leading - or + would be read as a flag: only absolute paths are written.
    expect(() => pathListWord('-/srv/x')).toThrow(/absolute/);
    expect(() => pathListWord('/srv/new\nline')).toThrow(UnitSyntaxError);
    expect(() => pathListWord('/srv/back\\slash')).toThrow(UnitSyntaxError);
  });

  it('comments: a control character never ends the comment line', () => {
    expect(comment('cwd /srv/a\nExecStartPre=/bin/sh')).toBe('# cwd /srv/a\\x0aExecStartPre=/bin/sh');
    expect(comment('plain 100% text')).toBe('# plain 100% text');
  });
});
