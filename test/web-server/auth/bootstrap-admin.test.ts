import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testDialects } from '../../../common/db/test-database.js';
import { ensureAdminUser } from '../../../web-server/src/auth/bootstrap-admin.js';
import { useAuthFixture } from './auth-fixture.js';

for (const dialect of testDialects()) {
  describe(`ensureAdminUser [${dialect}]`, () => {
    const fx = useAuthFixture(dialect);
    let dataDir: string;
    let lines: string[];
    const log = (line: string) => lines.push(line);

    beforeEach(() => {
      dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-admin-')), 'data');
      lines = [];
    });
    afterEach(() => {
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    });

    it('creates admin "azkaban" with a generated password written to <data dir>/admin-password with mode 0600 and logged once', async () => {
      const result = await ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: '', log });
      const file = path.join(dataDir, 'admin-password');
      assert.deepEqual(result, { created: true, passwordFile: file });
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const password = fs.readFileSync(file, 'utf8').trim();
      assert.match(password, /^[A-Za-z0-9_-]{20,}$/);
      assert.deepEqual(lines, [`Created admin user "azkaban" with password ${password} (also written to ${file})`]);
      const { principal } = await fx().auth.login('azkaban', password, '127.0.0.1');
      assert.equal(principal.role, 'ADMIN');
    });

    it('tightens the mode of a stale admin-password file it overwrites', async () => {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'admin-password'), 'old\n', { mode: 0o644 });
      await ensureAdminUser({ auth: fx().auth, dataDir, log });
      assert.equal(fs.statSync(path.join(dataDir, 'admin-password')).mode & 0o777, 0o600);
    });

    it('uses the configured password without writing a file or logging the password', async () => {
      const result = await ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'configured-secret', log });
      assert.deepEqual(result, { created: true });
      assert.equal(fs.existsSync(path.join(dataDir, 'admin-password')), false);
      assert.deepEqual(lines, ['Created admin user "azkaban" with the configured password (CAISSON_ADMIN_PASSWORD).']);
      await fx().auth.login('azkaban', 'configured-secret', '127.0.0.1');
    });

    it('does nothing on later starts and never changes the existing password', async () => {
      await ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'first-password', log });
      lines = [];
      assert.deepEqual(await ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'second-password', log }), { created: false });
      assert.deepEqual(await ensureAdminUser({ auth: fx().auth, dataDir, log }), { created: false });
      assert.deepEqual(lines, []);
      assert.equal(fs.existsSync(path.join(dataDir, 'admin-password')), false);
      await fx().auth.login('azkaban', 'first-password', '127.0.0.1');
    });

    it('creates the admin exactly once when two servers start at the same moment', async () => {
      const results = await Promise.all([
        ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'password-one', log }),
        ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'password-two', log }),
      ]);
      assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
      assert.equal(lines.length, 1);
      assert.equal((await fx().auth.listUsers()).length, 1);
    });

    it('refuses a configured password that breaks the policy', async () => {
      await assert.rejects(ensureAdminUser({ auth: fx().auth, dataDir, adminPassword: 'short', log }), {
        code: 'BAD_REQUEST',
        message: 'Password must be at least 8 characters long.',
      });
    });
  });
}
