import { describePublicApi } from '@tooling/api-checks';
import * as api from '../src/index.js';

// Only argument errors (TypeError/RangeError) are thrown here: no error convention to check.
describePublicApi({ dir: new URL('..', import.meta.url), exports: api });
