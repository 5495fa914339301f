import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

describePublicApi({
  dir: new URL('..', import.meta.url),
  exports: api,
  errors: { base: api.PortsError, codeType: 'PortErrorCode', codePrefix: 'E_PORT_' },
});
