import assert from 'node:assert/strict';
import { testDialects } from '../../common/db/test-database.js';
import { restCall, startTestServer, type TestServer } from '../support/test-server.js';

for (const dialect of testDialects()) {
  describe(`health probes [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;

    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => {
      // CaissonServer.stop destroys the already destroyed pool again, which knex allows.
      await t?.stop();
    });

    it('answers /healthz with 200 {status: ok} without credentials', async () => {
      const r = await restCall(`${t.url}/healthz`, 'GET');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { status: 'ok' });
    });

    it('answers /readyz with 200 while the database answers', async () => {
      const r = await restCall(`${t.url}/readyz`, 'GET');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { status: 'ready' });
    });

    it('answers /readyz with 503 once the database pool is gone, while /healthz stays 200', async () => {
      // The background loops stop first: one caught acquiring a connection while the pool is destroyed
      // would wait out knex's acquire timeout (60 s) before the server could stop.
      await t.server.queue.stop();
      await t.server.scheduler.stop();
      await t.server.rampDown.stop();
      await t.server.control.stop();
      await t.server.db.destroy();
      const r = await restCall(`${t.url}/readyz`, 'GET');
      assert.equal(r.status, 503);
      assert.deepEqual(r.json, { status: 'unavailable', message: 'the database does not answer' });
      const live = await restCall(`${t.url}/healthz`, 'GET');
      assert.equal(live.status, 200);
    });
  });
}
