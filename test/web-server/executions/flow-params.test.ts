import assert from 'node:assert/strict';
import { isAdminOnlyParameter, podEnvFrom, resolveFlowParams } from '../../../web-server/src/executions/flow-params.js';
import { CaissonError } from '../../../common/errors.js';

describe('flow parameters of a submit', () => {
  it('lists the admin-only names of DESIGN §3', () => {
    for (const k of [
      'flowPriority',
      'allow.image.test.version',
      'enable.dev.pod',
      'disable.pod.cleanup',
      'java.enable.debug',
      'azkaban.flow.x',
      'azkaban.job.y',
    ]) {
      assert.equal(isAdminOnlyParameter(k), true, k);
    }
    for (const k of ['greeting', 'image.spark.version', 'flow.num.job.threads', 'azkaban']) assert.equal(isAdminOnlyParameter(k), false, k);
  });

  it('takes param.override.* from the flow config and lets the submit win', () => {
    const r = resolveFlowParams({ 'param.override.a': '1', 'param.override.b': '2', other: 'x' }, { b: '3', c: '4' }, false);
    assert.deepEqual(r, { params: { a: '1', b: '3', c: '4' }, priority: 5 });
  });

  it('refuses an admin-only parameter submitted by a non-admin', () => {
    assert.throws(
      () => resolveFlowParams({}, { flowPriority: '9', 'disable.pod.cleanup': 'true' }, false),
      (e: unknown) =>
        e instanceof CaissonError && e.code === 'FORBIDDEN' && e.message === 'Only admins may set disable.pod.cleanup, flowPriority.',
    );
  });

  it('refuses an admin-only parameter from param.override in the DSL for a non-admin', () => {
    assert.throws(
      () => resolveFlowParams({ 'param.override.enable.dev.pod': 'true' }, {}, false),
      (e: unknown) =>
        e instanceof CaissonError &&
        e.code === 'FORBIDDEN' &&
        e.message ===
          "Only admins may set enable.dev.pod: the flow's config sets param.override.enable.dev.pod. Remove it, or ask an admin to run the flow.",
    );
  });

  it('lets an admin set flowPriority, which becomes the priority', () => {
    assert.equal(resolveFlowParams({}, { flowPriority: '9' }, true).priority, 9);
    assert.throws(
      () => resolveFlowParams({}, { flowPriority: 'high' }, true),
      /flowPriority must be a whole number \(higher runs first\), got "high"\./,
    );
  });

  it('refuses a pod.env.var that would replace a system variable or is not a valid name', () => {
    assert.throws(
      () => resolveFlowParams({}, { 'pod.env.var.CAISSON_EXEC_TOKEN': 'x' }, true),
      /pod\.env\.var\.CAISSON_EXEC_TOKEN: CAISSON_EXEC_TOKEN is a system variable/,
    );
    assert.throws(
      () => resolveFlowParams({}, { 'pod.env.var.JOB_OUTPUT_PROP_FILE': 'x' }, true),
      /JOB_OUTPUT_PROP_FILE is a system variable/,
    );
    assert.throws(() => resolveFlowParams({}, { 'pod.env.var.1BAD': 'x' }, true), /"1BAD" is not a valid environment variable name/);
    assert.deepEqual(podEnvFrom({ 'pod.env.var.REGION': 'eu', a: 'b' }), { REGION: 'eu' });
  });
});
