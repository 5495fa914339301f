import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

describePublicApi({
  dir: new URL('..', import.meta.url),
  exports: api,
  // The app's README documents its CLI, config and endpoints, not a library API.
  readmeTable: false,
  errors: {
    base: api.SystemManagerError,
    codeType: 'SystemManagerErrorCode',
    // The app's codes are what its CLI logs and its control protocol answers:
    // they keep their names, so no prefix beyond E_.
    codePrefix: 'E_',
    caughtInside: {
      SecretFileRefused: 'fleet-key.ts and etcd-store-options.ts: becomes a ConfigError naming the option',
      UnitSyntaxError: 'unit/unit-file.ts and unit/hardening.ts: becomes a UnitError naming the directive',
      LogDirUnsafeError: 'supervisor/writer-output.ts: becomes E_SERVICE_FAILED naming the service',
    },
    unscanned: {
      'supervisor/rotating-log-file.ts':
        'its refusal of a symlinked log directory (a bare Error) is left to the rework of the log writer',
    },
  },
});
