import * as session from '@core/session';
import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

// A store's errors are session errors: the base and the prefix are @core/session's.
describePublicApi({
  dir: new URL('..', import.meta.url),
  exports: api,
  errors: {
    base: session.SessionError,
    codeType: 'RedisStoreErrorCode',
    codePrefix: 'E_SESSION_',
    alsoThrown: session,
  },
});
