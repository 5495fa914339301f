import { StatsConfigurationError } from './errors.js';

/** The environment variable that sets the default cost of one inference, in US dollars. */
export const COST_ENV_VARIABLE = 'ML_INFERENCE_COST_USD';

/** Cost of one inference (US dollars) when neither the option nor the environment sets it. */
export const DEFAULT_COST_PER_INFERENCE = 0.002;

// Plain decimal notation only: no hex, no `Infinity`, no sign.
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The cost of one inference: the option when given, else `ML_INFERENCE_COST_USD`
 * when set and non-empty, else 0.002.
 *
 * @throws TypeError / RangeError when the option is not a finite number >= 0.
 * @throws StatsConfigurationError when the environment variable is set to anything else.
 */
export function resolveCostPerInference(
  option: unknown,
  env: Readonly<Record<string, string | undefined>>,
): number {
  if (option !== undefined) {
    if (typeof option !== 'number') {
      throw new TypeError(
        `costPerInference must be a number (US dollars per inference), got ${typeof option}`,
      );
    }
    if (!Number.isFinite(option) || option < 0) {
      throw new RangeError(
        `costPerInference must be a finite number >= 0 (US dollars per inference), got ${option}`,
      );
    }
    return option;
  }
  const raw = env[COST_ENV_VARIABLE];
  // An empty variable (`ML_INFERENCE_COST_USD= cmd`) means unset, as for most tools.
  if (raw === undefined || raw.trim() === '') return DEFAULT_COST_PER_INFERENCE;
  const text = raw.trim();
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value)) {
    throw new StatsConfigurationError(
      COST_ENV_VARIABLE,
      raw,
      'a non-negative decimal number of US dollars per inference, e.g. 0.002',
    );
  }
  return value;
}
