// The one error type of unit generation, in its own module so that every part
// of the unit (paths, hardening, the file itself) can refuse the same way.
import { SystemManagerError } from '../errors.js';

/** A unit we refuse to write; the message says what to do instead. */
export class UnitError extends SystemManagerError<'E_UNIT'> {
  constructor(message: string, details: readonly string[] = []) {
    super('E_UNIT', message, { details });
  }
}
