import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMIT_NOFILE, HARDENING, parseHardening } from './hardening.js';
import { UnitError } from './unit-error.js';

function refusal(set: string[]): UnitError {
  try {
    parseHardening({ set });
  } catch (error) {
    expect(error).toBeInstanceOf(UnitError);
    return error as UnitError;
  }
  throw new Error(`--set ${set.join(' ')} was accepted`);
}

describe('parseHardening (`unit --set Key=Value`, `--no-hardening`)', () => {
  it('nothing given: every directive at its protective value', () => {
    expect(parseHardening({})).toEqual({ enabled: true, set: {}, readWritePaths: [] });
    expect(HARDENING.LimitNOFILE.protective).toBe(String(DEFAULT_LIMIT_NOFILE));
    expect(parseHardening({ noHardening: true }).enabled).toBe(false);
  });

  it("takes systemd's names in any case and writes values in one spelling; a later --set wins", () => {
    const { set } = parseHardening({
      set: [
        'nonewprivileges=off',
        'ProtectSystem=FULL',
        'ProtectHome=read-only',
        'ProtectHome=tmpfs',
        'PrivateTmp=false',
        'RestrictSUIDSGID=0',
        'LockPersonality=no',
        'LimitNOFILE=4096:Infinity',
      ],
    });
    expect(set).toEqual({
      NoNewPrivileges: 'no',
      ProtectSystem: 'full',
      ProtectHome: 'tmpfs',
      PrivateTmp: 'no',
      RestrictSUIDSGID: 'no',
      LockPersonality: 'no',
      LimitNOFILE: '4096:infinity',
    });
    expect(parseHardening({ set: ['LimitNOFILE=1048576'] }).set.LimitNOFILE).toBe('1048576');
    expect(parseHardening({ set: ['LimitNOFILE=infinity'] }).set.LimitNOFILE).toBe('infinity');
  });

  it('ReadWritePaths adds up, normalized to absolute paths', () => {
    expect(
      parseHardening({ set: ['ReadWritePaths=/srv/data/', 'readwritepaths=/srv/my logs/../cache'] })
        .readWritePaths,
    ).toEqual(['/srv/data', '/srv/cache']);
  });

  it('refuses an unknown key, naming what it takes and where other settings go', () => {
    const error = refusal(['User=root']);
    expect(error.message).toMatch(/unit changes only NoNewPrivileges, .*LimitNOFILE, ReadWritePaths/);
    expect(error.details.join('\n')).toMatch(/systemctl edit system-manager/);
    expect(refusal(['ProtectHome']).message).toMatch(/expected Key=Value/);
    expect(refusal(['=yes']).message).toMatch(/expected Key=Value/);
  });

  it('refuses a value systemd would not take, and anything that could smuggle a line into the unit', () => {
    for (const [assignment, message] of [
      ['ProtectSystem=maybe', /ProtectSystem takes strict, full, yes or no/],
      ['ProtectHome=read-write', /ProtectHome takes read-only, yes, tmpfs or no/],
      ['PrivateTmp=yes\nExecStartPre=/bin/sh -c id', /PrivateTmp takes yes or no/],
      ['LimitNOFILE=64', /at least 1024/],
      ['LimitNOFILE=65536:4096', /soft:hard/],
      ['LimitNOFILE=1:2:3', /soft:hard/],
      ['LimitNOFILE=65536\nUser=root', /LimitNOFILE takes/],
      ['LimitNOFILE=-1', /LimitNOFILE takes/],
      ['ReadWritePaths=relative/dir', /absolute/],
      ['ReadWritePaths=/srv/a\nb', /cannot be written in a unit file/],
      ['ReadWritePaths=/srv/back\\slash', /cannot be written in a unit file/],
    ] as const) {
      expect(refusal([assignment]).message).toMatch(message);
    }
  });
});
