import * as session from '@core/session';
import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

// A store's errors are session errors: the base and the prefix are @core/session's.
describePublicApi({
  dir: new URL('..', import.meta.url),
  exports: api,
  errors: {
    base: session.SessionError,
    codeType: 'EtcdStoreErrorCode',
    codePrefix: 'E_SESSION_',
    alsoThrown: session,
    caughtInside: {
      MemberResting: 'connection.ts: a member resting after a failure is skipped for the next',
    },
  },
});
