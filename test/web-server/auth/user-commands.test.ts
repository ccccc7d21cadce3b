import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { runUserCommand, USER_USAGE } from '../../../web-server/src/cli/user-commands.js';
import { useAuthFixture } from './auth-fixture.js';

for (const dialect of testDialects()) {
  describe(`caisson user commands [${dialect}]`, () => {
    const fx = useAuthFixture(dialect);
    let lines: string[];
    const run = (args: string[], stdin?: string) =>
      runUserCommand(args, fx().auth, (l) => lines.push(l), stdin === undefined ? {} : { readStdin: async () => stdin });

    beforeEach(() => {
      lines = [];
    });

    it('adds a user with the given password, role, email and groups', async () => {
      assert.equal(
        await run([
          'user',
          'add',
          'carol',
          '--admin',
          '--password',
          'carol-password',
          '--email',
          'c@example.com',
          '--group',
          'ops',
          '--group=etl',
        ]),
        0,
      );
      assert.deepEqual(lines, ['Created user "carol" (ADMIN, groups etl, ops).']);
      const { principal } = await fx().auth.login('carol', 'carol-password', '127.0.0.1');
      assert.deepEqual({ role: principal.role, groups: principal.groups }, { role: 'ADMIN', groups: ['etl', 'ops'] });
    });

    it('generates and prints a password when none is given', async () => {
      assert.equal(await run(['add', 'dave']), 0);
      assert.equal(lines[0], 'Created user "dave" (USER).');
      const password = /^Password: (\S+)$/.exec(lines[1] ?? '')?.[1];
      assert.ok(password && password.length >= 20, lines.join('\n'));
      await fx().auth.login('dave', password, '127.0.0.1');
    });

    it('reads the password from the first line of standard input with --password-stdin', async () => {
      assert.equal(await run(['user', 'add', 'erin', '--password-stdin'], 'erin-password\n'), 0);
      assert.deepEqual(lines, ['Created user "erin" (USER).']);
      await fx().auth.login('erin', 'erin-password', '127.0.0.1');
    });

    it('fails with exit code 1 and the reason when the user exists or the password is too short', async () => {
      await run(['user', 'add', 'frank', '--password', 'frank-password']);
      lines = [];
      assert.equal(await run(['user', 'add', 'frank', '--password', 'frank-password']), 1);
      assert.equal(await run(['user', 'add', 'gina', '--password', 'short']), 1);
      assert.deepEqual(lines, ['error: User "frank" already exists.', 'error: Password must be at least 8 characters long.']);
    });

    it('resets a password, ending the sessions, and prints a generated one', async () => {
      await run(['user', 'add', 'hank', '--password', 'hank-password']);
      const { sessionId } = await fx().auth.login('hank', 'hank-password', '127.0.0.1');
      lines = [];
      assert.equal(await run(['user', 'reset-password', 'hank']), 0);
      assert.equal(lines[0], 'Password of user "hank" changed; its sessions have ended.');
      const password = /^Password: (\S+)$/.exec(lines[1] ?? '')?.[1] ?? '';
      assert.equal(await fx().auth.authenticateSession(sessionId), null);
      await fx().auth.login('hank', password, '127.0.0.1');
      assert.equal(await run(['user', 'reset-password', 'hank', '--password', 'chosen-password']), 0);
      await fx().auth.login('hank', 'chosen-password', '127.0.0.1');
    });

    it('answers exit code 1 for a reset of an unknown user', async () => {
      assert.equal(await run(['user', 'reset-password', 'nobody', '--password', 'long-enough']), 1);
      assert.deepEqual(lines, ['error: User "nobody" not found.']);
    });

    it('disables and enables a user', async () => {
      await run(['user', 'add', 'ivy', '--password', 'ivy-password']);
      lines = [];
      assert.equal(await run(['user', 'disable', 'ivy']), 0);
      await assert.rejects(fx().auth.login('ivy', 'ivy-password', '127.0.0.1'), { code: 'LOGIN_FAILED' });
      assert.equal(await run(['user', 'enable', 'ivy']), 0);
      await fx().auth.login('ivy', 'ivy-password', '127.0.0.1');
      assert.deepEqual(lines, ['User "ivy" disabled.', 'User "ivy" enabled.']);
    });

    it('lists users as an aligned table', async () => {
      await run(['user', 'add', 'jo', '--password', 'jo-password', '--group', 'etl', '--email', 'jo@example.com']);
      await run(['user', 'add', 'azkaban', '--admin', '--password', 'admin-password']);
      await run(['user', 'disable', 'jo']);
      lines = [];
      assert.equal(await run(['user', 'list']), 0);
      assert.deepEqual(lines, [
        'USERNAME  ROLE   STATUS    GROUPS  EMAIL',
        'azkaban   ADMIN  enabled   -       -',
        'jo        USER   disabled  etl     jo@example.com',
      ]);
    });

    const usageCases: [string[], string][] = [
      [['user'], 'missing user command'],
      [['user', 'remove', 'x'], 'unknown user command "remove"'],
      [['user', 'add'], 'user add needs a user name'],
      [['user', 'add', 'x', 'y'], 'unexpected argument "y"'],
      [['user', 'add', 'x', '--password'], 'option --password needs a value'],
      [['user', 'add', 'x', '--role', 'ADMIN'], 'unknown option --role'],
      [['user', 'add', 'x', '--password', 'p1234567', '--password-stdin'], 'use either --password or --password-stdin, not both'],
      [['user', 'disable', 'x', '--admin'], 'unknown option --admin'],
      [['user', 'list', 'extra'], 'unexpected argument "extra"'],
    ];
    for (const [args, message] of usageCases) {
      it(`prints usage and exits 2 for "${args.join(' ')}": ${message}`, async () => {
        assert.equal(await run(args), 2);
        assert.deepEqual(lines, [`error: ${message}`, USER_USAGE]);
        assert.deepEqual(await fx().auth.listUsers(), []);
      });
    }
  });
}
