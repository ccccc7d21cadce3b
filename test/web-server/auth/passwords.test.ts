import assert from 'node:assert/strict';
import { generatePassword, hashPassword, validatePassword, verifyPassword } from '../../../web-server/src/auth/passwords.js';
import { validateUsername } from '../../../web-server/src/auth/usernames.js';

describe('passwords', () => {
  it('hash a password so that only the same password verifies', async () => {
    const hash = await hashPassword('correct horse', 4);
    assert.match(hash, /^\$2[aby]\$04\$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct hors', hash), false);
  });

  it('refuse passwords shorter than 8 characters with a clear message', async () => {
    assert.throws(() => validatePassword('1234567'), { code: 'BAD_REQUEST', message: 'Password must be at least 8 characters long.' });
    await assert.rejects(hashPassword('short', 4), { code: 'BAD_REQUEST', message: 'Password must be at least 8 characters long.' });
    assert.doesNotThrow(() => validatePassword('12345678'));
  });

  it('refuse passwords longer than bcrypt reads instead of truncating them', () => {
    assert.throws(() => validatePassword('x'.repeat(73)), {
      code: 'BAD_REQUEST',
      message: 'Password must be at most 72 bytes long (UTF-8).',
    });
  });

  it('treat a malformed stored hash as a mismatch', async () => {
    assert.equal(await verifyPassword('whatever1', 'not-a-hash'), false);
  });

  it('generate distinct URL-safe passwords of at least 20 characters that pass the policy', () => {
    const a = generatePassword();
    const b = generatePassword();
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{20,}$/);
    validatePassword(a);
  });

  it('accept user names of 1-64 characters from letters, digits and ._@- only', () => {
    validateUsername('a');
    validateUsername('first.last_x@example-1.com');
    validateUsername('x'.repeat(64));
    assert.throws(() => validateUsername(''), { code: 'BAD_REQUEST' });
    assert.throws(() => validateUsername('x'.repeat(65)), { code: 'BAD_REQUEST' });
    assert.throws(() => validateUsername('with space'), {
      code: 'BAD_REQUEST',
      message: 'Invalid user name "with space": use 1-64 characters from A-Z, a-z, 0-9, ".", "_", "@" and "-".',
    });
  });
});
