import assert from 'node:assert/strict';
import { CaissonError } from '../../../../common/errors.js';
import { checkResourceRequests } from '../../../../web-server/src/runtime/kubernetes/pod-resources.js';

const CAPS = {
  userMax: { cpu: '4', memory: '16Gi', disk: '50Gi' },
  adminMax: { cpu: '32', memory: '128Gi', disk: '500Gi' },
};

function refusal(params: Record<string, string>, isAdmin: boolean): CaissonError {
  try {
    checkResourceRequests(params, isAdmin, CAPS);
  } catch (e) {
    assert.ok(e instanceof CaissonError);
    return e;
  }
  assert.fail('expected a refusal');
}

describe('resource caps at submit', () => {
  it('accepts requests within the user cap, and no requests at all', () => {
    checkResourceRequests({}, false, CAPS);
    checkResourceRequests({ 'flow.container.cpu.request': '', other: 'x' }, false, CAPS);
    checkResourceRequests(
      { 'flow.container.cpu.request': '4', 'flow.container.memory.request': '16Gi', 'flow.container.disk.request': '50Gi' },
      false,
      CAPS,
    );
  });

  it('lets an admin go up to the admin cap', () => {
    checkResourceRequests(
      { 'flow.container.cpu.request': '32000m', 'flow.container.memory.request': '128Gi', 'flow.container.disk.request': '500Gi' },
      true,
      CAPS,
    );
  });

  it('refuses a user above the user cap of each parameter, naming the cap and the admin cap', () => {
    const cases: [string, string, string][] = [
      [
        'flow.container.cpu.request',
        '4500m',
        'flow.container.cpu.request=4500m is above the user cap of 4; only an admin may request more, up to 32.',
      ],
      [
        'flow.container.memory.request',
        '17Gi',
        'flow.container.memory.request=17Gi is above the user cap of 16Gi; only an admin may request more, up to 128Gi.',
      ],
      [
        'flow.container.disk.request',
        '51Gi',
        'flow.container.disk.request=51Gi is above the user cap of 50Gi; only an admin may request more, up to 500Gi.',
      ],
    ];
    for (const [name, value, message] of cases) {
      const e = refusal({ [name]: value }, false);
      assert.equal(e.code, 'FORBIDDEN');
      assert.equal(e.httpStatus, 403);
      assert.equal(e.message, message);
    }
  });

  it('refuses an admin above the admin cap instead of clamping', () => {
    const e = refusal({ 'flow.container.memory.request': '129Gi' }, true);
    assert.equal(e.code, 'INVALID_PARAMETER');
    assert.equal(e.message, 'flow.container.memory.request=129Gi is above the admin cap of 128Gi: nobody may request more.');
  });

  it('refuses a user above the admin cap as a value nobody may set', () => {
    const e = refusal({ 'flow.container.cpu.request': '64' }, false);
    assert.equal(e.code, 'INVALID_PARAMETER');
    assert.equal(e.message, 'flow.container.cpu.request=64 is above the user cap of 4 and the admin cap of 32: nobody may request more.');
  });

  it('refuses a value that is not a positive quantity, saying what is expected', () => {
    const cases: [string, string, string][] = [
      [
        'flow.container.cpu.request',
        'two',
        'flow.container.cpu.request must be a positive Kubernetes quantity such as 500m or 2, got "two".',
      ],
      [
        'flow.container.memory.request',
        '0',
        'flow.container.memory.request must be a positive Kubernetes quantity such as 512Mi or 4Gi, got "0".',
      ],
      [
        'flow.container.disk.request',
        '-1Gi',
        'flow.container.disk.request must be a positive Kubernetes quantity such as 1Gi or 20Gi, got "-1Gi".',
      ],
    ];
    for (const [name, value, message] of cases) {
      for (const isAdmin of [false, true]) {
        const e = refusal({ [name]: value }, isAdmin);
        assert.equal(e.code, 'INVALID_PARAMETER');
        assert.equal(e.httpStatus, 400);
        assert.equal(e.message, message);
      }
    }
  });

  it('lists every problem at once', () => {
    const e = refusal({ 'flow.container.cpu.request': '8', 'flow.container.memory.request': 'lots' }, false);
    assert.equal(e.code, 'INVALID_PARAMETER');
    assert.deepEqual(
      e.problems.map((p) => p.message),
      [
        'flow.container.cpu.request=8 is above the user cap of 4; only an admin may request more, up to 32.',
        'flow.container.memory.request must be a positive Kubernetes quantity such as 512Mi or 4Gi, got "lots".',
      ],
    );
  });
});
