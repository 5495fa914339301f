import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

describePublicApi({
  dir: new URL('..', import.meta.url),
  exports: api,
  errors: { base: api.StatsError, codeType: 'StatsErrorCode', codePrefix: 'E_STATS_' },
});
