import assert from 'node:assert/strict';
import { CaissonError } from '../../common/errors.js';
import { jobBaseEnvironment, readContainerConfig } from '../../flow-container/src/config.js';

describe('the flow container environment', () => {
  const env = {
    CAISSON_EXEC_ID: '12',
    CAISSON_API_URL: 'http://127.0.0.1:8081/',
    CAISSON_EXEC_TOKEN: 'secret',
    CAISSON_WORK_DIR: '/tmp/exec-12',
    PATH: '/usr/bin',
    LANG: 'C.UTF-8',
  };

  it('is read into one frozen config with defaults', () => {
    const config = readContainerConfig(env);
    assert.equal(config.execId, 12);
    assert.equal(config.apiUrl, 'http://127.0.0.1:8081');
    assert.equal(config.token, 'secret');
    assert.equal(config.controlPort, 0);
    assert.equal(config.controlHost, '127.0.0.1');
    assert.equal(config.workDir, '/tmp/exec-12');
    assert.equal(config.killGraceMs, 5000);
    assert.ok(Object.isFrozen(config));
  });

  it('gives jobs an environment without any CAISSON_* variable', () => {
    const config = readContainerConfig({ ...env, CAISSON_VERSION_SET_ID: '3', caisson_lower: 'x', JOB_OUTPUT_PROP_FILE: '/x' });
    assert.deepEqual(config.jobBaseEnv, { PATH: '/usr/bin', LANG: 'C.UTF-8' });
    assert.deepEqual(jobBaseEnvironment({ CAISSON_EXEC_TOKEN: 't', HOME: '/root' }), { HOME: '/root' });
  });

  it('lists every problem at once', () => {
    assert.throws(
      () => readContainerConfig({ CAISSON_EXEC_ID: 'twelve', CAISSON_CONTROL_PORT: '70000', CAISSON_JOB_KILL_GRACE: 'soon' }),
      (e: unknown) => {
        assert.ok(e instanceof CaissonError);
        assert.equal(e.code, 'INVALID_CONFIG');
        assert.deepEqual(
          e.problems.map((p) => p.message),
          [
            'CAISSON_EXEC_ID: expected a whole number, got "twelve"',
            'CAISSON_CONTROL_PORT: expected a number from 0 to 65535, got 70000',
            'CAISSON_JOB_KILL_GRACE: expected a duration like 500ms, 30s, 15m, 24h or 7d, got "soon"',
            'CAISSON_API_URL must be set',
            'CAISSON_EXEC_TOKEN must be set',
          ],
        );
        return true;
      },
    );
  });
});
