/** The rules for user and group names (both fit the 64-character columns of the users schema). */
import { CaissonError } from '../../../common/errors.js';

const NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

export function isValidUsername(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** Throws BAD_REQUEST unless the name is 1–64 characters of letters, digits, `.`, `_`, `@` and `-`. */
export function validateUsername(name: string): void {
  if (!isValidUsername(name)) {
    throw new CaissonError('BAD_REQUEST', `Invalid user name "${name}": use 1-64 characters from A-Z, a-z, 0-9, ".", "_", "@" and "-".`);
  }
}

/** Group names follow the same rule as user names. */
export function validateGroupName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new CaissonError('BAD_REQUEST', `Invalid group name "${name}": use 1-64 characters from A-Z, a-z, 0-9, ".", "_", "@" and "-".`);
  }
}
