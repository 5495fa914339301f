import type { Invariant, InvariantDefinition, ViolationDetails } from './types.js';

/**
 * Defines a named rule over a state object, with an optional heal.
 *
 * @example
 * ```ts
 * const totalIsSum = defineInvariant<Counters>({
 *   id: 'total-equals-sum',
 *   description: 'total == hits + misses',
 *   check: (s) => (s.total === s.hits + s.misses ? null : { expected: s.hits + s.misses, actual: s.total }),
 *   heal: (s, v) => {
 *     const from = s.total;
 *     s.total = v.expected;
 *     return { field: 'total', from, to: s.total };
 *   },
 * });
 * ```
 * @throws TypeError when `id` or `description` is empty, or `check`/`heal` is not a function.
 */
export function defineInvariant<S, D extends ViolationDetails = ViolationDetails>(
  definition: InvariantDefinition<S, D>,
): Invariant<S, D> {
  const { id, description, check, heal } = definition ?? ({} as InvariantDefinition<S, D>);
  if (typeof id !== 'string' || id.trim() === '') {
    throw new TypeError(`defineInvariant: "id" must be a non-empty string, got ${JSON.stringify(id)}`);
  }
  if (typeof description !== 'string' || description.trim() === '') {
    throw new TypeError(
      `defineInvariant(${id}): "description" must be a non-empty string, got ${JSON.stringify(description)}`,
    );
  }
  if (typeof check !== 'function') {
    throw new TypeError(`defineInvariant(${id}): "check" must be a function, got ${typeof check}`);
  }
  if (heal !== undefined && typeof heal !== 'function') {
    throw new TypeError(`defineInvariant(${id}): "heal" must be a function when given, got ${typeof heal}`);
  }
  return Object.freeze({ id, description, check, heal, healable: heal !== undefined });
}
