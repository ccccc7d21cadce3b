import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClientLib } from '../../../../web-server/src/runtime/kubernetes/client-lib.js';
import { loadKubeConfig } from '../../../../web-server/src/runtime/kubernetes/kube-api.js';
import { readPodTemplate } from '../../../../web-server/src/runtime/kubernetes/create.js';
import { isCaissonError } from '../../../../common/errors.js';

describe('Kubernetes client configuration', () => {
  before(() => loadClientLib());
  let dir: string;
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-kubecfg-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
    else process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
    else process.env.KUBERNETES_SERVICE_PORT = saved.port;
  });

  it('reads the in-cluster service account (token, CA, namespace) and the API address from the environment', () => {
    const sa = path.join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    fs.mkdirSync(sa, { recursive: true });
    fs.writeFileSync(path.join(sa, 'token'), 'in-cluster-token');
    fs.writeFileSync(path.join(sa, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    fs.writeFileSync(path.join(sa, 'namespace'), 'flows');
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const kc = loadKubeConfig({ inClusterPrefix: dir });
    assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
    assert.equal(kc.getCurrentUser()?.authProvider?.config?.tokenFile ?? kc.getCurrentUser()?.token, path.join(sa, 'token'));
  });

  it('reads a kubeconfig file', () => {
    const file = path.join(dir, 'config');
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "http://127.0.0.1:6443", insecure-skip-tls-verify: true } }]',
        'users: [{ name: u, user: { token: t } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    assert.equal(loadKubeConfig({ file }).getCurrentCluster()?.server, 'http://127.0.0.1:6443');
  });

  it('refuses a pod template that is not a YAML Pod or pod spec, naming the file', () => {
    const bad = path.join(dir, 'template.yaml');
    fs.writeFileSync(bad, 'kind: Deployment\nspec: {}\n');
    assert.throws(
      () => readPodTemplate(bad),
      (e: unknown) => isCaissonError(e) && e.code === 'INVALID_CONFIG' && /has kind Deployment; expected Pod/.test(e.message),
    );
    fs.writeFileSync(bad, 'spec: [unclosed\n');
    assert.throws(() => readPodTemplate(bad), /is not valid YAML/);
    assert.throws(() => readPodTemplate(path.join(dir, 'missing.yaml')), /cannot read the pod template/);
    fs.writeFileSync(bad, 'spec:\n  nodeSelector: { pool: flows }\n');
    assert.deepEqual(readPodTemplate(bad), { spec: { nodeSelector: { pool: 'flows' } } });
  });
});
