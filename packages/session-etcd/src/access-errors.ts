// The cluster answered but refused this client: a wrong user or password, or
// a user whose roles do not cover the fleet's key prefix. Retrying cannot fix
// either, so the call fails at once with words that say which one and what to
// change — not as "did not answer", which would send an operator to look at
// a cluster that is fine.
import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdUserNotFoundError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import { EtcdStoreError } from './errors.js';

/** What the cluster refused. */
export type EtcdAccessRefusal = 'authentication' | 'permission';

/** The cluster refused this client: wrong credentials (`authentication`) or a role that does not cover the key prefix (`permission`). */
export class EtcdStoreAccessError extends EtcdStoreError {
  /**
   * @param location - the endpoints and key prefix (no credentials)
   * @param refusal - what was refused
   * @param detail - who asked, what to check
   * @param cause - the client's error
   */
  constructor(
    location: string,
    readonly refusal: EtcdAccessRefusal,
    detail: string,
    cause: unknown,
  ) {
    super(
      'E_SESSION_STORE_ACCESS',
      `the session store at ${location} refused this client: ${detail} (${(cause as Error).message})`,
      { cause },
    );
  }
}

/**
 * The access error `error` stands for, or null when it is another error.
 * @param user - the configured user, or null (then a client certificate's CN is the user, if any)
 * @param keyPrefix - the fleet's key prefix, for the hint
 */
export function accessErrorOf(
  error: Error,
  location: string,
  user: string | null,
  keyPrefix: string,
): EtcdStoreAccessError | null {
  const who = user === null ? 'no user was given' : `user ${JSON.stringify(user)}`;
  if (
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdUserNotFoundError ||
    error instanceof EtcdInvalidAuthTokenError ||
    error instanceof GRPCUnauthenticatedError ||
    /authentication failed|user name is empty|invalid auth token|user name not found/i.test(error.message)
  )
    return new EtcdStoreAccessError(
      location,
      'authentication',
      `authentication failed for ${who}; check the user and password`,
      error,
    );
  if (error instanceof EtcdPermissionDeniedError || /permission denied/i.test(error.message))
    return new EtcdStoreAccessError(
      location,
      'permission',
      user === null
        ? `permission denied, and no user was given (the cluster has authentication enabled: give a user and password, or a client certificate whose CN is a user) — its roles must grant readwrite on the key prefix ${JSON.stringify(keyPrefix)}`
        : `permission denied for ${who}: its roles must grant readwrite on the key prefix ${JSON.stringify(keyPrefix)} (etcdctl role grant-permission <role> --prefix=true readwrite ${keyPrefix})`,
      error,
    );
  return null;
}
