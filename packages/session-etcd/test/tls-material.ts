// Throw-away TLS material for the security tests, made with openssl: a CA, a
// server certificate for 127.0.0.1, client certificates (the CN is the etcd
// user a certificate logs in as when no password is given) and a second,
// unrelated CA. Everything goes into a directory of the caller's (0700);
// private keys are written 0600.
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd, timeout: 30_000 });
}

/** Paths of the files {@link makeTlsMaterial} wrote. */
export interface TlsMaterial {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Client certificate with CN `root` (the admin etcdctl uses). */
  readonly rootCert: string;
  readonly rootKey: string;
  /** Client certificate with CN `system-manager` (no such user: it logs in with a password). */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed none of the above. */
  readonly otherCa: string;
}

async function selfSignedCa(dir: string, name: string): Promise<void> {
  // biome-ignore format: one flag and its value per line
  await openssl(dir,
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  );
  chmodSync(join(dir, `${name}.key`), 0o600);
}

async function signed(dir: string, name: string, cn: string, extensions: string): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions, { mode: 0o600 });
  // biome-ignore format: one flag and its value per line
  await openssl(dir,
    'req', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
  );
  chmodSync(join(dir, `${name}.key`), 0o600);
  // biome-ignore format: one flag and its value per line
  await openssl(dir,
    'x509', '-req', '-in', `${name}.csr`,
    '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', ext,
  );
}

/** Writes a CA, a server certificate (SAN IP 127.0.0.1), two client certificates and another CA into `dir`. */
export async function makeTlsMaterial(dir: string): Promise<TlsMaterial> {
  await selfSignedCa(dir, 'ca');
  await selfSignedCa(dir, 'other-ca');
  await signed(
    dir,
    'server',
    'etcd-test-server',
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  const client = 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';
  await signed(dir, 'root', 'root', client);
  await signed(dir, 'client', 'system-manager', client);
  const at = (file: string) => join(dir, file);
  return {
    ca: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    rootCert: at('root.crt'),
    rootKey: at('root.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    otherCa: at('other-ca.crt'),
  };
}
