import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { sha256Hex } from '../../../web-server/src/auth/auth-service.js';
import type { Principal } from '../../../web-server/src/auth/principal.js';
import { HOUR, MINUTE, useAuthFixture } from './auth-fixture.js';

for (const dialect of testDialects()) {
  describe(`AuthService API tokens [${dialect}]`, () => {
    const fx = useAuthFixture(dialect);
    let alice: Principal;
    let bob: Principal;
    let root: Principal;

    beforeEach(async () => {
      const { auth } = fx();
      await auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER', groups: ['etl'] });
      await auth.createUser({ username: 'bob', password: 'bob-password', role: 'USER' });
      await auth.createUser({ username: 'root', password: 'root-password', role: 'ADMIN' });
      alice = (await auth.login('alice', 'alice-password', '10.0.0.1')).principal;
      bob = (await auth.login('bob', 'bob-password', '10.0.0.1')).principal;
      root = (await auth.login('root', 'root-password', '10.0.0.1')).principal;
    });

    it('creates a cst_ token that authenticates as its owner', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci pipeline');
      assert.match(created.token, /^cst_[A-Za-z0-9_-]{43}$/);
      assert.equal(created.prefix, created.token.slice(0, 12));
      assert.deepEqual(await fx().auth.authenticateToken(created.token), { ...alice, via: 'token' });
    });

    it('stores only the SHA-256 of the token and the short prefix', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      const rows = (await fx().tdb.db('api_tokens').select('token_hash', 'prefix')) as { token_hash: string; prefix: string }[];
      assert.deepEqual(rows, [{ token_hash: sha256Hex(created.token), prefix: created.prefix }]);
    });

    it("lists the owner's tokens newest first without their secrets", async () => {
      const first = await fx().auth.createApiToken(alice, 'first');
      fx().clock.advance(MINUTE);
      const second = await fx().auth.createApiToken(alice, 'second', HOUR);
      await fx().auth.createApiToken(bob, 'bobs');
      const list = await fx().auth.listApiTokens(alice);
      assert.deepEqual(list, [
        {
          id: second.id,
          name: 'second',
          prefix: second.prefix,
          createdAt: second.createdAt,
          lastUsedAt: null,
          expiresAt: second.createdAt + HOUR,
          revokedAt: null,
        },
        {
          id: first.id,
          name: 'first',
          prefix: first.prefix,
          createdAt: first.createdAt,
          lastUsedAt: null,
          expiresAt: null,
          revokedAt: null,
        },
      ]);
      assert.ok(!JSON.stringify(list).includes(first.token) && !JSON.stringify(list).includes(second.token));
    });

    it('records when a token was last used, at most once a minute', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      const t0 = fx().clock.now();
      await fx().auth.authenticateToken(created.token);
      fx().clock.advance(30_000);
      await fx().auth.authenticateToken(created.token);
      assert.equal((await fx().auth.listApiTokens(alice))[0]?.lastUsedAt, t0);
      fx().clock.advance(30_000);
      await fx().auth.authenticateToken(created.token);
      assert.equal((await fx().auth.listApiTokens(alice))[0]?.lastUsedAt, t0 + MINUTE);
    });

    it('stops authenticating a token once its owner revokes it', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      await fx().auth.revokeApiToken(alice, created.id);
      assert.equal(await fx().auth.authenticateToken(created.token), null);
      assert.equal((await fx().auth.listApiTokens(alice))[0]?.revokedAt, fx().clock.now());
      await fx().auth.revokeApiToken(alice, created.id); // idempotent
    });

    it("lets an admin revoke another user's token", async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      await fx().auth.revokeApiToken(root, created.id);
      assert.equal(await fx().auth.authenticateToken(created.token), null);
    });

    it("forbids a non-admin to revoke another user's token", async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      await assert.rejects(fx().auth.revokeApiToken(bob, created.id), {
        code: 'FORBIDDEN',
        message: `API token ${created.id} belongs to another user; only its owner or an admin may revoke it.`,
      });
      assert.notEqual(await fx().auth.authenticateToken(created.token), null);
    });

    it('answers NOT_FOUND when revoking an unknown token id', async () => {
      await assert.rejects(fx().auth.revokeApiToken(root, 999_999), { code: 'NOT_FOUND', message: 'API token 999999 not found.' });
    });

    it('stops authenticating a token once its lifetime has passed', async () => {
      const created = await fx().auth.createApiToken(alice, 'short', 10 * MINUTE);
      fx().clock.advance(10 * MINUTE - 1);
      assert.notEqual(await fx().auth.authenticateToken(created.token), null);
      fx().clock.advance(1);
      assert.equal(await fx().auth.authenticateToken(created.token), null);
    });

    it('refuses tokens of a disabled user until the user is enabled again', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      await fx().auth.setDisabled('alice', true);
      assert.equal(await fx().auth.authenticateToken(created.token), null);
      await fx().auth.setDisabled('alice', false);
      assert.notEqual(await fx().auth.authenticateToken(created.token), null);
    });

    it('keeps tokens working after a password change', async () => {
      const created = await fx().auth.createApiToken(alice, 'ci');
      await fx().auth.setPassword('alice', 'brand-new-password');
      assert.notEqual(await fx().auth.authenticateToken(created.token), null);
    });

    it('does not authenticate unknown, malformed or session-id strings', async () => {
      const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      assert.equal(await fx().auth.authenticateToken(sessionId), null);
      assert.equal(await fx().auth.authenticateToken('cst_unknown'), null);
      assert.equal(await fx().auth.authenticateToken(''), null);
    });

    it('refuses an empty token name and a non-positive lifetime', async () => {
      await assert.rejects(fx().auth.createApiToken(alice, '  '), {
        code: 'BAD_REQUEST',
        message: 'API token name must be 1-128 characters long.',
      });
      await assert.rejects(fx().auth.createApiToken(alice, 'x', 0), {
        code: 'BAD_REQUEST',
        message: 'API token lifetime must be a positive number of milliseconds, got 0.',
      });
    });
  });
}
