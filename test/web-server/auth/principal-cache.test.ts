import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { PRINCIPAL_CACHE_MS } from '../../../web-server/src/auth/auth-service.js';
import { PrincipalCache } from '../../../web-server/src/auth/principal-cache.js';
import type { Principal } from '../../../web-server/src/auth/principal.js';
import { useAuthFixture } from './auth-fixture.js';

const alice: Principal = { userId: 1, username: 'alice', role: 'USER', groups: ['etl'], via: 'session' };

describe('principal cache', () => {
  it('keeps an entry for its ttl and never past the expiry it is given', () => {
    const c = new PrincipalCache(1000, 10);
    c.set('a', alice, 0, null, c.generation);
    c.set('b', alice, 0, 400, c.generation);
    assert.deepEqual(c.get('a', 999), alice);
    assert.equal(c.get('a', 1000), undefined);
    assert.deepEqual(c.get('b', 399), alice);
    assert.equal(c.get('b', 400), undefined);
  });

  it('drops the oldest entry when full', () => {
    const c = new PrincipalCache(1000, 2);
    for (const k of ['a', 'b', 'c']) c.set(k, alice, 0, null, c.generation);
    assert.equal(c.size, 2);
    assert.equal(c.get('a', 1), undefined);
    assert.ok(c.get('c', 1));
  });

  it('does not keep a principal read before a revocation', () => {
    const c = new PrincipalCache(1000, 10);
    const before = c.generation;
    c.clear();
    c.set('a', alice, 0, null, before);
    assert.equal(c.get('a', 1), undefined);
  });

  it('answers copies: a caller changing its principal does not change the cache', () => {
    const c = new PrincipalCache(1000, 10);
    c.set('a', alice, 0, null, c.generation);
    c.get('a', 1)!.groups.push('admins');
    assert.deepEqual(c.get('a', 1)!.groups, ['etl']);
  });
});

for (const dialect of testDialects()) {
  describe(`AuthService principal cache [${dialect}]`, () => {
    const fx = useAuthFixture(dialect);
    const addAlice = () => fx().auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER', groups: ['etl'] });

    it('reuses an authenticated session without reading the database until the cache time passes', async () => {
      await addAlice();
      const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      assert.equal((await fx().auth.authenticateSession(sessionId))?.username, 'alice');
      // Another replica's logout: this process sees it once its cached principal is older than PRINCIPAL_CACHE_MS.
      await fx().tdb.db('sessions').delete();
      fx().clock.advance(PRINCIPAL_CACHE_MS - 1);
      assert.equal((await fx().auth.authenticateSession(sessionId))?.username, 'alice');
      fx().clock.advance(1);
      assert.equal(await fx().auth.authenticateSession(sessionId), null);
    });

    it('ends a cached session at once on logout, password change or disabling in this process', async () => {
      await addAlice();
      for (const revoke of [
        (sid: string) => fx().auth.logout(sid),
        () => fx().auth.setPassword('alice', 'alice-password'),
        () => fx().auth.setDisabled('alice', true),
      ]) {
        await fx().auth.setDisabled('alice', false);
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        assert.notEqual(await fx().auth.authenticateSession(sessionId), null);
        await revoke(sessionId);
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
      }
    });

    it('shows a new group at once', async () => {
      await addAlice();
      const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      assert.deepEqual((await fx().auth.authenticateSession(sessionId))?.groups, ['etl']);
      await fx().auth.addUserToGroup('alice', 'analysts');
      assert.deepEqual((await fx().auth.authenticateSession(sessionId))?.groups, ['analysts', 'etl']);
    });

    it('refuses a cached token at once when it is revoked, and never past its expiry', async () => {
      await addAlice();
      const { principal } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      const revoked = await fx().auth.createApiToken(principal, 'revoked');
      assert.notEqual(await fx().auth.authenticateToken(revoked.token), null);
      await fx().auth.revokeApiToken(principal, revoked.id);
      assert.equal(await fx().auth.authenticateToken(revoked.token), null);

      const shortLived = await fx().auth.createApiToken(principal, 'short', PRINCIPAL_CACHE_MS / 2);
      assert.notEqual(await fx().auth.authenticateToken(shortLived.token), null);
      fx().clock.advance(PRINCIPAL_CACHE_MS / 2);
      assert.equal(await fx().auth.authenticateToken(shortLived.token), null);
    });
  });

  describe(`AuthService without a principal cache [${dialect}]`, () => {
    const fx = useAuthFixture(dialect, { principalCacheMs: 0 });

    it('reads the session on every request', async () => {
      await fx().auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER' });
      const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      assert.notEqual(await fx().auth.authenticateSession(sessionId), null);
      await fx().tdb.db('sessions').delete();
      assert.equal(await fx().auth.authenticateSession(sessionId), null);
    });
  });
}
