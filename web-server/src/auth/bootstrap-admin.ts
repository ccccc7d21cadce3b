/**
 * Solo mode's first start: make sure the admin user `azkaban` exists. Its password comes from config
 * (CAISSON_ADMIN_PASSWORD) or is generated, logged once and written to `<data dir>/admin-password`
 * (mode 0600). An existing user is never changed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isCaissonError } from '../../../common/errors.js';
import type { AuthService } from './auth-service.js';
import { generatePassword } from './passwords.js';

export const ADMIN_USERNAME = 'azkaban';
export const ADMIN_PASSWORD_FILE = 'admin-password';

export interface EnsureAdminUserOptions {
  auth: AuthService;
  dataDir: string;
  /** The configured password; empty or undefined means generate one. */
  adminPassword?: string | undefined;
  log: (line: string) => void;
}

export interface EnsureAdminUserResult {
  created: boolean;
  /** Where a generated password was written (only when one was generated). */
  passwordFile?: string;
}

export async function ensureAdminUser(opts: EnsureAdminUserOptions): Promise<EnsureAdminUserResult> {
  const { auth, dataDir, log } = opts;
  if (await auth.findUser(ADMIN_USERNAME)) return { created: false };
  const configured = opts.adminPassword ?? '';
  const password = configured || generatePassword();
  try {
    await auth.createUser({ username: ADMIN_USERNAME, password, role: 'ADMIN' });
  } catch (e) {
    // Another server starting at the same moment created it first: its password stands.
    if (isCaissonError(e) && e.code === 'USER_EXISTS') return { created: false };
    throw e;
  }
  if (configured) {
    log(`Created admin user "${ADMIN_USERNAME}" with the configured password (CAISSON_ADMIN_PASSWORD).`);
    return { created: true };
  }
  const passwordFile = path.join(dataDir, ADMIN_PASSWORD_FILE);
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  // mode applies only when the file is created; a stale file from an earlier database keeps its own.
  await fs.chmod(passwordFile, 0o600);
  log(`Created admin user "${ADMIN_USERNAME}" with password ${password} (also written to ${passwordFile})`);
  return { created: true, passwordFile };
}
