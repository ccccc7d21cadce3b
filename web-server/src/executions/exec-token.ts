/**
 * Execution tokens (DESIGN §4; ADR 0004). A token is HMAC-SHA256(server secret key, nonce), where
 * the nonce is 256 random bits created at claim and stored with the execution. The database holds
 * the nonce and the token's SHA-256, never the token: reading the database is not enough to act
 * as a container. The server recomputes the token to call the container's control API; a retried
 * or adopted launch reuses the same nonce, hence the same token.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class ExecTokens {
  constructor(private readonly secretKey: Buffer) {
    if (secretKey.length < 32) throw new Error('the execution-token secret key must hold at least 32 bytes');
  }

  newNonce(): string {
    return crypto.randomBytes(32).toString('hex');
  }

  tokenFor(nonce: string): string {
    return crypto.createHmac('sha256', this.secretKey).update(`caisson-exec-token:${nonce}`).digest('base64url');
  }

  static hash(token: string): string {
    return crypto.createHash('sha256').update(token).digest('hex');
  }

  /** Constant-time comparison of a presented token with the stored hash. */
  static matches(token: string, storedHash: string | null): boolean {
    if (!storedHash || token.length > 256) return false;
    const a = Buffer.from(ExecTokens.hash(token), 'hex');
    const b = Buffer.from(storedHash, 'hex');
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }
}

/**
 * The configured key (hex or base64, ≥ 32 bytes), or one generated on first start and kept in
 * `<dataDir>/secret-key` (mode 0600). Several web servers on one database must share the key.
 */
export function loadSecretKey(configured: string, dataDir: string): Buffer {
  if (configured) {
    const key = /^[0-9a-fA-F]+$/.test(configured) ? Buffer.from(configured, 'hex') : Buffer.from(configured, 'base64');
    if (key.length < 32) throw new Error('CAISSON_SECRET_KEY must encode at least 32 bytes (64 hex characters)');
    return key;
  }
  const file = path.join(dataDir, 'secret-key');
  try {
    return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = crypto.randomBytes(32);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
    throw e;
  }
}
