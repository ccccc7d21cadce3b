import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { testDialects } from '../../../common/db/test-database.js';
import { ADMIN_PASSWORD, ajaxLogin, getQuery, postForm, postMultipart, restCall, type TestServer } from '../../support/test-server.js';
import { startTestServer } from '../../support/test-server.js';
import { REPO_ROOT, zipOfExample } from '../../support/projects.js';
import { waitFor } from '../../support/wait.js';

type Json = Record<string, unknown>;
const FINAL = ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'];

for (const dialect of testDialects()) {
  describe(`solo mode: the example project on both plugin jobtypes at the versions its ramp plans choose [${dialect}]`, function () {
    this.timeout(120_000);
    let t: TestServer;
    let admin: string;

    const rest = async (method: string, p: string, json?: unknown) =>
      restCall(`${t.url}${p}`, method, { cookie: `azkaban.browser.session.id=${admin}`, ...(json === undefined ? {} : { json }) });
    const run = async (): Promise<Json> => {
      const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'executeFlow', project: 'scripts', flow: 'scripts' });
      assert.equal(r.json.error, undefined, r.text);
      const execid = Number(r.json.execid);
      return waitFor(
        `execution ${execid} to finish`,
        async () => {
          const e = await rest('GET', `/api/v1/executions/${execid}`);
          return FINAL.includes(String(e.json.status)) ? { ...e.json, execid } : undefined;
        },
        60_000,
        100,
      );
    };
    const jobLog = async (execid: unknown, jobId: string): Promise<string> => {
      const r = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchExecJobLogs',
        execid: String(execid),
        jobId,
        offset: '0',
        length: '100000',
      });
      assert.equal(r.json.error, undefined, r.text);
      return String(r.json.data);
    };
    /** A second payload version of a shipped jobtype under <data dir>/images/<name>/<version>/. */
    const addPayloadVersion = async (name: string, version: string, envVar: string) => {
      const dir = path.join(t.dataDir, 'images', name, version);
      fs.cpSync(path.join(REPO_ROOT, 'docker', 'jobtypes', name, 'payload'), dir, { recursive: true });
      const manifest = path.join(dir, 'jobtype.yaml');
      fs.writeFileSync(
        manifest,
        fs
          .readFileSync(manifest, 'utf8')
          .replace(/^version: .*$/m, `version: ${version}`)
          .replace(new RegExp(`${envVar}: .*$`, 'm'), `${envVar}: ${version}`),
      );
      const r = await rest('POST', '/imageVersions', { imageType: name, imagePath: name, imageVersion: version });
      assert.equal(r.status, 201, r.text);
    };
    const whyOf = async (execid: unknown) => {
      const r = await rest('GET', `/api/v1/executions/${String(execid)}/images`);
      assert.equal(r.status, 200, r.text);
      return r.json as {
        versionSetId: number;
        images: Json;
        resolution: { imageType: string; version: string; reason: string; why: string }[];
      };
    };

    before(async () => {
      t = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: 'scripts', description: 'plugin jobtypes' });
      const up = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project: 'scripts' },
        { file: { name: 'scripts.zip', type: 'application/zip', content: zipOfExample('plugin-jobtypes') } },
      );
      assert.equal(up.json.error, undefined, up.text);
      await addPayloadVersion('python', '2.0.0', 'PYTHON_JOBTYPE_VERSION');
      await addPayloadVersion('bash', '2.0.0', 'BASH_JOBTYPE_VERSION');
    });
    after(async () => {
      await t?.stop();
    });

    it('runs each jobtype at its plan-chosen version, and the next run follows a changed plan', async () => {
      const plan = await rest('POST', '/imageRampup', {
        planName: 'python 2',
        imageType: 'python',
        imageRampups: [
          { imageVersion: '2.0.0', rampupPercentage: 100 },
          { imageVersion: '1.0.0', rampupPercentage: 0 },
        ],
      });
      assert.equal(plan.status, 201, plan.text);
      const first = await run();
      assert.equal(first.status, 'SUCCEEDED', JSON.stringify(first));
      assert.match(await jobLog(first.execid, 'summarize'), /summarizing 42 rows for world with python jobtype 2\.0\.0/);
      assert.match(await jobLog(first.execid, 'prepare'), /with bash jobtype 1\.0\.0/);
      assert.match(await jobLog(first.execid, 'report'), /prepare produced 42 rows; summarize says 84 half-rows/);
      const why1 = await whyOf(first.execid);
      assert.equal(why1.versionSetId, first.versionSetId);
      assert.deepEqual(why1.images, {
        bash: { image: 'bash:1.0.0', version: '1.0.0' },
        'caisson-base': { image: 'caisson-base:0.0.0', version: '0.0.0' },
        python: { image: 'python:2.0.0', version: '2.0.0' },
      });
      const byType1 = new Map(why1.resolution.map((r) => [r.imageType, r]));
      assert.deepEqual([byType1.get('bash')?.reason, byType1.get('bash')?.why], ['active', 'the ACTIVE version']);
      assert.equal(byType1.get('python')?.reason, 'ramp-plan');
      assert.match(byType1.get('python')?.why ?? '', /^bucket \d+ falls in 0\.\.99 of the ramp-up plan \(version 2\.0\.0\)$/);

      assert.equal(
        (
          await rest('POST', '/imageRampup/python', {
            imageRampups: [
              { imageVersion: '2.0.0', rampupPercentage: 0 },
              { imageVersion: '1.0.0', rampupPercentage: 100 },
            ],
          })
        ).status,
        200,
      );
      const bashPlan = await rest('POST', '/imageRampup', {
        planName: 'bash 2',
        imageType: 'bash',
        imageRampups: [{ imageVersion: '2.0.0', rampupPercentage: 100 }],
      });
      assert.equal(bashPlan.status, 201, bashPlan.text);
      const second = await run();
      assert.equal(second.status, 'SUCCEEDED', JSON.stringify(second));
      assert.notEqual(second.versionSetId, first.versionSetId);
      assert.match(await jobLog(second.execid, 'summarize'), /with python jobtype 1\.0\.0/);
      assert.match(await jobLog(second.execid, 'prepare'), /with bash jobtype 2\.0\.0/);
      const why2 = await whyOf(second.execid);
      assert.deepEqual(
        why2.resolution.map((r) => [r.imageType, r.version]),
        [
          ['bash', '2.0.0'],
          ['caisson-base', '0.0.0'],
          ['python', '1.0.0'],
        ],
      );
      assert.ok(
        why2.resolution.every((r) => r.imageType === 'caisson-base' || r.reason === 'ramp-plan'),
        JSON.stringify(why2.resolution),
      );
    });
  });
}
