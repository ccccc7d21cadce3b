import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { LOGIN_FAILED_MESSAGE } from '../../../web-server/src/auth/auth-service.js';
import { FAILURE_WINDOW, MAX_FAILURES, MINUTE, SESSION_TTL, useAuthFixture } from './auth-fixture.js';

const T0_PLUS_WINDOW = '2023-11-14T22:28:20.000Z'; // FakeClock starts at 2023-11-14T22:13:20.000Z
const loginFailed = { code: 'LOGIN_FAILED', message: LOGIN_FAILED_MESSAGE };

for (const dialect of testDialects()) {
  describe(`AuthService logins, sessions and users [${dialect}]`, () => {
    const fx = useAuthFixture(dialect);

    async function addAlice(): Promise<void> {
      await fx().auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER', groups: ['etl', 'analysts'] });
    }

    describe('login', () => {
      it('opens a session whose principal carries the user, role and sorted groups', async () => {
        await addAlice();
        const { sessionId, principal, expiresAt } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        assert.match(sessionId, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(expiresAt, fx().clock.now() + SESSION_TTL);
        assert.deepEqual(
          { ...principal, userId: 0 },
          { userId: 0, username: 'alice', role: 'USER', groups: ['analysts', 'etl'], via: 'session' },
        );
        assert.deepEqual(await fx().auth.authenticateSession(sessionId), principal);
      });

      it('stores only the SHA-256 of the session id', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        const rows = (await fx().tdb.db('sessions').select('id_hash', 'client_ip')) as { id_hash: string; client_ip: string }[];
        assert.equal(rows.length, 1);
        assert.match(rows[0]?.id_hash ?? '', /^[0-9a-f]{64}$/);
        assert.notEqual(rows[0]?.id_hash, sessionId);
        assert.equal(rows[0]?.client_ip, '10.0.0.1');
      });

      it('answers a wrong password and an unknown user with the same LOGIN_FAILED error', async () => {
        await addAlice();
        await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.1'), loginFailed);
        await assert.rejects(fx().auth.login('mallory', 'alice-password', '10.0.0.2'), loginFailed);
        await assert.rejects(fx().auth.login('not a valid name!', 'alice-password', '10.0.0.3'), loginFailed);
      });

      it('matches user names case-sensitively', async () => {
        await addAlice();
        await assert.rejects(fx().auth.login('Alice', 'alice-password', '10.0.0.1'), loginFailed);
      });

      it('refuses a disabled user with the correct password, and ends its sessions', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        await fx().auth.setDisabled('alice', true);
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.0.1'), loginFailed);
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
        await fx().auth.setDisabled('alice', false);
        assert.equal(await fx().auth.authenticateSession(sessionId), null, 'a session ended by disabling stays ended');
        await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      });
    });

    describe('sessions', () => {
      it('expire once the ttl passes without use', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        fx().clock.advance(SESSION_TTL - 1);
        fx().clock.advance(1);
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
      });

      it('are valid until just before the ttl passes', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        fx().clock.advance(SESSION_TTL - 1);
        assert.notEqual(await fx().auth.authenticateSession(sessionId), null);
      });

      it('slide their expiry to now + ttl on each use', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        for (let i = 0; i < 4; i++) {
          fx().clock.advance(50 * MINUTE);
          assert.notEqual(await fx().auth.authenticateSession(sessionId), null, `use ${i + 1}, ${(i + 1) * 50} minutes after login`);
        }
        fx().clock.advance(SESSION_TTL);
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
      });

      it('write last_seen_at at most once a minute', async () => {
        await addAlice();
        const t0 = fx().clock.now();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        const row = async () =>
          (await fx().tdb.db('sessions').first('last_seen_at', 'expires_at')) as {
            last_seen_at: number | string;
            expires_at: number | string;
          };
        fx().clock.advance(30_000);
        await fx().auth.authenticateSession(sessionId);
        assert.deepEqual(Object.values(await row()).map(Number), [t0, t0 + SESSION_TTL]);
        fx().clock.advance(30_000);
        await fx().auth.authenticateSession(sessionId);
        assert.deepEqual(Object.values(await row()).map(Number), [t0 + MINUTE, t0 + MINUTE + SESSION_TTL]);
      });

      it('end at logout, and a second logout is harmless', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        const other = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        await fx().auth.logout(sessionId);
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
        assert.notEqual(await fx().auth.authenticateSession(other.sessionId), null, 'other sessions of the user continue');
        await fx().auth.logout(sessionId);
      });

      it('are not found for unknown, empty or absurdly long ids', async () => {
        assert.equal(await fx().auth.authenticateSession('nope'), null);
        assert.equal(await fx().auth.authenticateSession(''), null);
        assert.equal(await fx().auth.authenticateSession('x'.repeat(10_000)), null);
      });

      it('all end when the password is changed, and only the new password logs in', async () => {
        await addAlice();
        const a = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        const b = await fx().auth.login('alice', 'alice-password', '10.0.0.2');
        await fx().auth.setPassword('alice', 'new-password-1');
        assert.equal(await fx().auth.authenticateSession(a.sessionId), null);
        assert.equal(await fx().auth.authenticateSession(b.sessionId), null);
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.0.1'), loginFailed);
        await fx().auth.login('alice', 'new-password-1', '10.0.0.1');
      });

      it('are swept once expired, together with failed logins older than the window', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        await assert.rejects(fx().auth.login('alice', 'bad-password', '10.0.0.1'), loginFailed);
        assert.deepEqual(await fx().auth.sweepExpired(), { sessions: 0, loginFailures: 0 });
        fx().clock.advance(SESSION_TTL);
        assert.deepEqual(await fx().auth.sweepExpired(), { sessions: 1, loginFailures: 1 });
        assert.equal(await fx().auth.authenticateSession(sessionId), null);
      });
    });

    describe('failed-login rate limit', () => {
      it(`refuses a user name after ${MAX_FAILURES} failures from any addresses, even with the correct password`, async () => {
        await addAlice();
        for (let i = 0; i < MAX_FAILURES; i++) {
          await assert.rejects(fx().auth.login('alice', 'wrong-password', `10.0.0.${i}`), loginFailed);
        }
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.1.1'), {
          code: 'TOO_MANY_REQUESTS',
          message: `Too many failed logins for user "alice". Try again in 900 seconds, at ${T0_PLUS_WINDOW}.`,
        });
      });

      it('counts failures for user names that do not exist, so the limit does not reveal which exist', async () => {
        for (let i = 0; i < MAX_FAILURES; i++) await assert.rejects(fx().auth.login('ghost', 'wrong-password', `10.0.0.${i}`), loginFailed);
        await assert.rejects(fx().auth.login('ghost', 'wrong-password', '10.0.1.1'), { code: 'TOO_MANY_REQUESTS' });
      });

      it(`refuses a client address after ${MAX_FAILURES} failures for any user names`, async () => {
        await addAlice();
        for (let i = 0; i < MAX_FAILURES; i++) {
          await assert.rejects(fx().auth.login(`user${i}`, 'wrong-password', '10.0.0.9'), loginFailed);
        }
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.0.9'), {
          code: 'TOO_MANY_REQUESTS',
          message: `Too many failed logins from address 10.0.0.9. Try again in 900 seconds, at ${T0_PLUS_WINDOW}.`,
        });
        await fx().auth.login('alice', 'alice-password', '10.0.0.10');
      });

      it('says to retry when the oldest counted failure leaves the window, and does not count refusals', async () => {
        await addAlice();
        for (let i = 0; i < MAX_FAILURES; i++) {
          await assert.rejects(fx().auth.login('alice', 'wrong-password', `10.0.0.${i}`), loginFailed);
          fx().clock.advance(MINUTE);
        }
        const refused = {
          code: 'TOO_MANY_REQUESTS',
          message: `Too many failed logins for user "alice". Try again in 720 seconds, at ${T0_PLUS_WINDOW}.`,
        };
        const err = await fx()
          .auth.login('alice', 'wrong-password', '10.0.1.1')
          .catch((e: unknown) => e);
        assert.deepEqual({ code: (err as { code: string }).code, message: (err as Error).message }, refused);
        assert.deepEqual((err as { details: unknown }).details, { retryAt: Date.parse(T0_PLUS_WINDOW), retryAfterSeconds: 720 });
        assert.equal((err as { retryable: boolean }).retryable, true);
        fx().clock.advance(12 * MINUTE - 1);
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.1.1'), { code: 'TOO_MANY_REQUESTS' });
        fx().clock.advance(1);
        const { principal } = await fx().auth.login('alice', 'alice-password', '10.0.1.1');
        assert.equal(principal.username, 'alice');
      });

      it('lifts the limit once the window has passed', async () => {
        await addAlice();
        for (let i = 0; i < MAX_FAILURES; i++) await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.1'), loginFailed);
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.0.1'), { code: 'TOO_MANY_REQUESTS' });
        fx().clock.advance(FAILURE_WINDOW);
        await fx().auth.login('alice', 'alice-password', '10.0.0.1');
      });

      it("forgets a user's failures from the address of a successful login only", async () => {
        await addAlice();
        await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.1'), loginFailed);
        await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.2'), loginFailed);
        await fx().auth.login('alice', 'alice-password', '10.0.0.2'); // erases the failure from .2 only
        await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.3'), loginFailed);
        await assert.rejects(fx().auth.login('alice', 'wrong-password', '10.0.0.3'), loginFailed); // .1 + .3 twice = 3
        await assert.rejects(fx().auth.login('alice', 'alice-password', '10.0.0.2'), { code: 'TOO_MANY_REQUESTS' });
      });

      it('lets at most the allowed number of concurrent wrong attempts reach the password check', async () => {
        await addAlice();
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => fx().auth.login('alice', 'wrong-password', `10.0.0.${i}`)),
        );
        const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'OK'));
        const failed = codes.filter((c) => c === 'LOGIN_FAILED').length;
        assert.ok(failed <= MAX_FAILURES, `${failed} attempts reached the password check: ${codes.join(',')}`);
        assert.equal(codes.filter((c) => c === 'TOO_MANY_REQUESTS').length, 10 - failed);
      });
    });

    describe('users', () => {
      it('refuses a second user with the same name with USER_EXISTS', async () => {
        await addAlice();
        await assert.rejects(fx().auth.createUser({ username: 'alice', password: 'another-password', role: 'ADMIN' }), {
          code: 'USER_EXISTS',
          message: 'User "alice" already exists.',
        });
      });

      it('refuses a password shorter than 8 characters and an invalid name', async () => {
        await assert.rejects(fx().auth.createUser({ username: 'bob', password: 'short', role: 'USER' }), {
          code: 'BAD_REQUEST',
          message: 'Password must be at least 8 characters long.',
        });
        await assert.rejects(fx().auth.createUser({ username: 'bob smith', password: 'long-enough', role: 'USER' }), {
          code: 'BAD_REQUEST',
        });
        assert.deepEqual(await fx().auth.listUsers(), []);
      });

      it('lists users sorted by name with role, state, email and groups', async () => {
        await fx().auth.createUser({ username: 'zed', password: 'zed-password', role: 'ADMIN', email: 'zed@example.com' });
        await addAlice();
        await fx().auth.setDisabled('zed', true);
        await fx().auth.addUserToGroup('zed', 'ops');
        await fx().auth.addUserToGroup('zed', 'ops');
        const list = (await fx().auth.listUsers()).map(({ id: _id, ...u }) => u);
        const createdAt = fx().clock.now();
        assert.deepEqual(list, [
          { username: 'alice', role: 'USER', email: null, disabled: false, groups: ['analysts', 'etl'], createdAt },
          { username: 'zed', role: 'ADMIN', email: 'zed@example.com', disabled: true, groups: ['ops'], createdAt },
        ]);
      });

      it('shows a group added later in the principal of an existing session', async () => {
        await addAlice();
        const { sessionId } = await fx().auth.login('alice', 'alice-password', '10.0.0.1');
        await fx().auth.addUserToGroup('alice', 'admins-of-x');
        assert.deepEqual((await fx().auth.authenticateSession(sessionId))?.groups, ['admins-of-x', 'analysts', 'etl']);
      });

      it('answers USER_NOT_FOUND for changes to an unknown user', async () => {
        const notFound = { code: 'USER_NOT_FOUND', message: 'User "nobody" not found.' };
        await assert.rejects(fx().auth.setPassword('nobody', 'long-enough'), notFound);
        await assert.rejects(fx().auth.setDisabled('nobody', true), notFound);
        await assert.rejects(fx().auth.addUserToGroup('nobody', 'g'), notFound);
      });

      it('gives an admin user the ADMIN role in its principal', async () => {
        await fx().auth.createUser({ username: 'root', password: 'root-password', role: 'ADMIN' });
        const { principal } = await fx().auth.login('root', 'root-password', '10.0.0.1');
        assert.equal(principal.role, 'ADMIN');
      });
    });
  });
}
