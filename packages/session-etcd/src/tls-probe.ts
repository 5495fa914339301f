// Why a TLS cluster does not answer. gRPC reports a failed TLS handshake as
// "UNAVAILABLE: No connection established" without its cause, which reads
// like a cluster that is down; a handshake of our own with the same CA and
// client certificate tells an untrusted member certificate from a client
// certificate the members refuse. Only run after a request failed that way,
// bounded by its own deadline, never thrown from.
import { connect } from 'node:tls';
import type { ResolvedTls } from './options.js';

/** Certificate checks of the member's certificate that failed on this side (Node's codes). */
const UNTRUSTED =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_(HAS_EXPIRED|NOT_YET_VALID|UNTRUSTED|REJECTED|SIGNATURE_FAILURE)|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** Alerts of a member that refused the client's certificate (or its absence). */
const REFUSED =
  /certificate required|bad certificate|unknown ca|certificate unknown|access denied|handshake failure/i;

// An HTTP/2 client preface and an empty SETTINGS frame: a member that accepted
// the handshake answers with its own SETTINGS; one that refused the client's
// certificate (TLS 1.3 checks it after the client's Finished) sends an alert.
const PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** Words for a failed handshake, or null when the failure was not about TLS. */
function describe(error: NodeJS.ErrnoException): string | null {
  const code = error.code ?? '';
  // OpenSSL's messages carry its source file and line: the alert's name is what tells.
  const said = /alert [a-z ]+/i.exec(error.message)?.[0] ?? (error.message.split('\n')[0] as string);
  if (UNTRUSTED.test(code))
    return `the member's certificate is not trusted (${code}: ${error.message}); check the CA (tls.ca) and that the certificate names the endpoint's host`;
  if (REFUSED.test(error.message) || /ALERT/.test(code))
    return `the member refused this client's certificate (${said}); the cluster wants a client certificate signed by its CA (tls.cert and tls.key)`;
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))
    return `the TLS handshake failed (${code}: ${said})`;
  return null;
}

/**
 * Tries one TLS handshake with `endpoint` (an `https://host:port` URL) the
 * way the client would. Resolves to what went wrong, or null when the
 * handshake succeeded or failed for a reason that is not TLS (refused,
 * unreachable, no answer within `timeoutMs`).
 */
export function probeTls(
  endpoint: string,
  tls: ResolvedTls | null,
  timeoutMs: number,
): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return Promise.resolve(null);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 2379);
  return new Promise((resolve) => {
    let done = false;
    const finish = (verdict: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    const socket = connect({
      host,
      port,
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
      ALPNProtocols: ['h2'],
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
    });
    const timer = setTimeout(() => finish(null), timeoutMs);
    timer.unref();
    socket.on('error', (error: NodeJS.ErrnoException) => finish(describe(error)));
    socket.once('secureConnect', () => socket.write(PREFACE));
    socket.once('data', () => finish(null));
    socket.once('end', () => finish(null));
  });
}
