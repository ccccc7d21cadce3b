/**
 * Password hashing and policy. Passwords are stored as bcrypt hashes (bcryptjs); the cost comes from
 * config (`passwordHashCost`). bcrypt reads at most 72 bytes, so longer passwords are refused rather
 * than silently truncated.
 */
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';
import { CaissonError } from '../../../common/errors.js';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_BYTES = 72;

/** Throws BAD_REQUEST when a new password breaks the policy: 8 characters or more, 72 bytes or fewer. */
export function validatePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new CaissonError('BAD_REQUEST', `Password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new CaissonError('BAD_REQUEST', `Password must be at most ${MAX_PASSWORD_BYTES} bytes long (UTF-8).`);
  }
}

/** Hashes a password that passed the policy. */
export async function hashPassword(password: string, cost: number): Promise<string> {
  validatePassword(password);
  return bcrypt.hash(password, cost);
}

/** True when the password matches the stored hash; false (never an error) for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}

/** A random password: 18 bytes as base64url, 24 URL-safe characters (144 bits). */
export function generatePassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}
