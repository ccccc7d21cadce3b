import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { CaissonError, isCaissonError } from '../../../common/errors.js';
import {
  bearerTokenFrom,
  getParams,
  paramsMiddleware,
  readRequestParams,
  sessionIdFrom,
  type ParamLimits,
} from '../../../web-server/src/http/request-params.js';

const MiB = 1024 * 1024;
const LIMITS: ParamLimits = { maxBodyBytes: MiB / 2, maxFileBytes: MiB, maxFields: 8, maxFiles: 3 };
const FORM = 'application/x-www-form-urlencoded';
const BOUNDARY = '----CaissonBoundary7MA4YWxkTrZu0gW';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

interface Echo {
  entries: [string, string][];
  queryNames: string[];
  files: { field: string; filename: string; mimeType: string; base64: string }[];
  session: string | null;
  bearer: string | null;
  sameParamsOnSecondRead: boolean;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Sent with a Content-Length; a list is sent as chunks with Transfer-Encoding: chunked. */
  body?: string | Buffer | (string | Buffer)[];
}

let port = 0;

/** Sends exactly the bytes given with node:http and parses the JSON answer. */
function send(request: RawRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...request.headers };
    const { body } = request;
    if (body !== undefined && !Array.isArray(body)) headers['Content-Length'] = String(Buffer.byteLength(body));
    if (Array.isArray(body)) headers['Transfer-Encoding'] = 'chunked';
    const req = http.request({ host: '127.0.0.1', port, method: request.method ?? 'POST', path: request.path ?? '/', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else {
      req.end(body);
    }
  });
}

async function echo(request: RawRequest): Promise<Echo> {
  const answer = await send(request);
  assert.equal(answer.status, 200, `expected 200, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as Echo;
}

async function refusal(request: RawRequest): Promise<Answer> {
  const answer = await send(request);
  assert.notEqual(answer.status, 200, `expected a refusal, got ${JSON.stringify(answer.body)}`);
  return answer;
}

interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
  type?: string;
}

function multipartBody(parts: Part[], options: { close?: boolean } = {}): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.type === undefined ? '' : `Content-Type: ${part.type}\r\n`;
    pieces.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n${type}\r\n`));
    pieces.push(Buffer.from(part.value));
    pieces.push(Buffer.from('\r\n'));
  }
  if (options.close !== false) pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(pieces);
}

/** Splits a buffer into chunks of `size` bytes. */
function chunksOf(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

describe('request parameters', () => {
  let server: http.Server;

  before(async () => {
    const app = express();
    app.use('/pre-parsed', express.urlencoded({ extended: false }));
    app.use(paramsMiddleware(LIMITS));
    app.use(paramsMiddleware(LIMITS));
    app.use(async (req: Request, res: Response) => {
      const params = getParams(req);
      const again = await readRequestParams(req, LIMITS);
      const answer: Echo = {
        entries: params.entries(),
        queryNames: [...params.queryNames],
        files: params.files.map((f) => ({
          field: f.field,
          filename: f.filename,
          mimeType: f.mimeType,
          base64: f.content.toString('base64'),
        })),
        session: sessionIdFrom(req, params) ?? null,
        bearer: bearerTokenFrom(req) ?? null,
        sameParamsOnSecondRead: again === params,
      };
      res.json(answer);
    });
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      if (isCaissonError(err)) res.status(err.httpStatus).json({ code: err.code, message: err.message });
      else res.status(500).json({ code: 'INTERNAL', message: String(err) });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  describe('query string and urlencoded bodies', () => {
    it('reads the query string of a GET with no body', async () => {
      const r = await echo({ method: 'GET', path: '/manager?ajax=fetchprojectflows&project=p1' });
      assert.deepEqual(r.entries, [
        ['ajax', 'fetchprojectflows'],
        ['project', 'p1'],
      ]);
      assert.deepEqual(r.queryNames, ['ajax', 'project']);
    });

    it('reads an urlencoded POST body', async () => {
      const r = await echo({ headers: { 'Content-Type': FORM }, body: 'action=login&username=azkaban&password=s3cret' });
      assert.deepEqual(r.entries, [
        ['action', 'login'],
        ['username', 'azkaban'],
        ['password', 's3cret'],
      ]);
      assert.deepEqual(r.queryNames, []);
    });

    it('decodes + as a space and percent escapes as UTF-8', async () => {
      const r = await echo({
        path: '/?q=a+b%2Bc&name=h%C3%A9',
        headers: { 'Content-Type': FORM },
        body: 'flowOverride%5Bmy.param%5D=x+y&emoji=%F0%9F%98%80&empty=&bare',
      });
      assert.deepEqual(r.entries, [
        ['q', 'a b+c'],
        ['name', 'hé'],
        ['flowOverride[my.param]', 'x y'],
        ['emoji', '😀'],
        ['empty', ''],
        ['bare', ''],
      ]);
    });

    it('puts query-string values before body values and keeps repeated names in order', async () => {
      const r = await echo({ path: '/?a=q1&b=q&a=q2', headers: { 'Content-Type': FORM }, body: 'a=b1&c=b&a=b2' });
      assert.deepEqual(r.entries, [
        ['a', 'q1'],
        ['b', 'q'],
        ['a', 'q2'],
        ['a', 'b1'],
        ['c', 'b'],
        ['a', 'b2'],
      ]);
      assert.deepEqual(r.queryNames, ['a', 'b']);
    });

    it('accepts a Content-Type in any case and with a charset', async () => {
      const r = await echo({ headers: { 'Content-Type': 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' }, body: 'x=1' });
      assert.deepEqual(r.entries, [['x', '1']]);
    });

    it('reads an urlencoded body sent with Transfer-Encoding: chunked and no Content-Length', async () => {
      const r = await echo({ headers: { 'Content-Type': FORM }, body: ['na', 'me=h%C', '3%A9llo&', 'n=2'] });
      assert.deepEqual(r.entries, [
        ['name', 'héllo'],
        ['n', '2'],
      ]);
    });

    it('refuses an urlencoded body larger than maxBodyBytes', async () => {
      const r = await refusal({ headers: { 'Content-Type': FORM }, body: `x=${'a'.repeat(MiB / 2)}` });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is larger than the limit of 0.5 MiB' });
    });

    it('refuses a chunked body once it grows past maxBodyBytes', async () => {
      const r = await refusal({ headers: { 'Content-Type': FORM }, body: ['x=', ...chunksOf(Buffer.alloc(MiB / 2, 'a'), 64 * 1024)] });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is larger than the limit of 0.5 MiB' });
    });

    it('refuses a body with more fields than maxFields', async () => {
      const body = Array.from({ length: 9 }, (_, i) => `f${i}=${i}`).join('&');
      const r = await refusal({ headers: { 'Content-Type': FORM }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body has more than 8 fields' });
    });

    it('keeps the fields of a body that an earlier middleware already parsed', async () => {
      const r = await echo({ path: '/pre-parsed?a=1', headers: { 'Content-Type': FORM }, body: 'b=2' });
      assert.deepEqual(r.entries, [
        ['a', '1'],
        ['b', '2'],
      ]);
    });
  });

  describe('bodies without a readable type', () => {
    it('accepts a POST with an unknown content type and an empty body, reading the query string', async () => {
      const r = await echo({ path: '/executor?ajax=executeFlow&flow=f', headers: { 'Content-Type': 'text/plain' }, body: '' });
      assert.deepEqual(r.entries, [
        ['ajax', 'executeFlow'],
        ['flow', 'f'],
      ]);
    });

    it('accepts a POST with neither a content type nor a body', async () => {
      const r = await echo({ path: '/?a=1' });
      assert.deepEqual(r.entries, [['a', '1']]);
    });

    it('refuses a non-empty body with an unknown content type, naming it and the accepted ones', async () => {
      const r = await refusal({ headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'a=1' });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        code: 'BAD_REQUEST',
        message: 'Unsupported Content-Type "text/plain"; send application/x-www-form-urlencoded, multipart/form-data or application/json',
      });
    });

    it('refuses a non-empty chunked body without a content type', async () => {
      const r = await refusal({ body: ['a=1'] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        code: 'BAD_REQUEST',
        message: 'A request body needs a Content-Type; send application/x-www-form-urlencoded, multipart/form-data or application/json',
      });
    });

    it('refuses a compressed body', async () => {
      const r = await refusal({ headers: { 'Content-Type': FORM, 'Content-Encoding': 'gzip' }, body: 'a=1' });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Content-Encoding "gzip" is not supported; send the body uncompressed' });
    });
  });

  describe('JSON bodies', () => {
    it('reads a JSON object, turning scalars into strings, skipping nulls and keeping arrays as JSON text', async () => {
      const r = await echo({
        path: '/?q=1',
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ project: 'p', priority: 5, admin: true, gone: null, disabled: ['a', 'b'], nested: { k: 1 } }),
      });
      assert.deepEqual(r.entries, [
        ['q', '1'],
        ['project', 'p'],
        ['priority', '5'],
        ['admin', 'true'],
        ['disabled', '["a","b"]'],
        ['nested', '{"k":1}'],
      ]);
    });

    it('refuses a body that is not valid JSON', async () => {
      const r = await refusal({ headers: { 'Content-Type': 'application/json' }, body: '{"a":' });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Request body is not valid JSON' });
    });

    it('refuses a JSON body that is not an object', async () => {
      const r = await refusal({ headers: { 'Content-Type': 'application/json' }, body: '["a"]' });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'A JSON request body must be an object of parameters' });
    });
  });

  describe('multipart bodies', () => {
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x0d, 0x0a, 0xff, 0x2d, 0x2d]);

    it('reads text fields and keeps a file in memory with its exact bytes', async () => {
      const body = multipartBody([
        { name: 'ajax', value: 'upload' },
        { name: 'project', value: 'prøject' },
        { name: 'file', value: zip, filename: 'flows-é.zip', type: 'application/zip' },
      ]);
      const r = await echo({ path: '/manager?session.id=s1', headers: { 'Content-Type': MULTIPART }, body });
      assert.deepEqual(r.entries, [
        ['session.id', 's1'],
        ['ajax', 'upload'],
        ['project', 'prøject'],
      ]);
      assert.deepEqual(r.files, [{ field: 'file', filename: 'flows-é.zip', mimeType: 'application/zip', base64: zip.toString('base64') }]);
      assert.deepEqual(r.queryNames, ['session.id']);
    });

    it('reads a multipart body that starts with a blank line', async () => {
      const body = Buffer.concat([
        Buffer.from('\r\n'),
        multipartBody([
          { name: 'a', value: '1' },
          { name: 'file', value: zip, filename: 'x.zip', type: 'application/zip' },
        ]),
      ]);
      const r = await echo({ headers: { 'Content-Type': MULTIPART }, body });
      assert.deepEqual(r.entries, [['a', '1']]);
      assert.equal(r.files[0]?.base64, zip.toString('base64'));
    });

    it('reads a multipart body that starts with a bare LF, which busboy alone would read as empty', async () => {
      const body = Buffer.concat([Buffer.from('\n'), multipartBody([{ name: 'a', value: '1' }])]);
      const r = await echo({ headers: { 'Content-Type': MULTIPART }, body });
      assert.deepEqual(r.entries, [['a', '1']]);
    });

    it('reads a chunked multipart body that starts with several blank lines spread over chunks', async () => {
      const body = multipartBody([{ name: 'a', value: '1' }]);
      const r = await echo({ headers: { 'Content-Type': MULTIPART }, body: ['\r', '\n\r\n', '\n', body] });
      assert.deepEqual(r.entries, [['a', '1']]);
    });

    it('reads a multipart upload sent with Transfer-Encoding: chunked in small pieces', async () => {
      const content = Buffer.alloc(300 * 1024, 0x2d); // dashes, to look like boundaries
      const body = multipartBody([
        { name: 'project', value: 'p' },
        { name: 'file', value: content, filename: 'big.zip', type: 'application/zip' },
      ]);
      const r = await echo({ headers: { 'Content-Type': MULTIPART }, body: chunksOf(body, 7919) });
      assert.deepEqual(r.entries, [['project', 'p']]);
      assert.equal(r.files[0]?.base64, content.toString('base64'));
    });

    it('keeps repeated fields and several files in order', async () => {
      const body = multipartBody([
        { name: 'a', value: '1' },
        { name: 'f', value: 'one', filename: 'one.txt', type: 'text/plain' },
        { name: 'a', value: '2' },
        { name: 'f', value: 'two', filename: '2.txt' },
        { name: 'f', value: '', filename: '', type: 'application/octet-stream' }, // an empty file input
      ]);
      const r = await echo({ path: '/?a=0', headers: { 'Content-Type': MULTIPART }, body });
      assert.deepEqual(r.entries, [
        ['a', '0'],
        ['a', '1'],
        ['a', '2'],
      ]);
      assert.deepEqual(
        r.files.map((f) => [f.field, f.filename, f.mimeType, Buffer.from(f.base64, 'base64').toString()]),
        [
          ['f', 'one.txt', 'text/plain', 'one'],
          ['f', '2.txt', 'text/plain', 'two'], // RFC 7578's default type
          ['f', '', 'application/octet-stream', ''],
        ],
      );
    });

    it('accepts a file of exactly maxFileBytes', async () => {
      const content = Buffer.alloc(MiB, 7);
      const r = await echo({
        headers: { 'Content-Type': MULTIPART },
        body: multipartBody([{ name: 'file', value: content, filename: 'x.zip' }]),
      });
      assert.equal(Buffer.from(r.files[0]?.base64 ?? '', 'base64').length, MiB);
    });

    it('treats an empty multipart body as no parameters', async () => {
      const r = await echo({ path: '/?a=1', headers: { 'Content-Type': MULTIPART }, body: '' });
      assert.deepEqual(r.entries, [['a', '1']]);
      assert.deepEqual(r.files, []);
    });

    it('refuses a file larger than maxFileBytes, naming the field and the limit in MiB', async () => {
      const body = multipartBody([{ name: 'file', value: Buffer.alloc(MiB + 1), filename: 'x.zip', type: 'application/zip' }]);
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Multipart file field "file" is larger than the limit of 1 MiB' });
    });

    it('refuses a text field larger than maxBodyBytes', async () => {
      const body = multipartBody([{ name: 'big', value: 'x'.repeat(MiB / 2 + 1) }]);
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Multipart field "big" is larger than the limit of 0.5 MiB' });
    });

    it('refuses more files than maxFiles', async () => {
      const body = multipartBody([1, 2, 3, 4].map((i) => ({ name: `f${i}`, value: 'x', filename: `${i}.zip` })));
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body has more than 3 files' });
    });

    it('refuses more text fields than maxFields', async () => {
      const body = multipartBody(Array.from({ length: 9 }, (_, i) => ({ name: `f${i}`, value: 'x' })));
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body has more than 8 fields' });
    });

    it('refuses a multipart body larger than maxBodyBytes plus maxFiles files of maxFileBytes', async () => {
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body: chunksOf(Buffer.alloc(3.5 * MiB + 1, 'p'), 256 * 1024) });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body, { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is larger than the limit of 3.5 MiB' });
    });

    it('refuses a multipart body whose closing boundary never comes', async () => {
      const body = multipartBody([{ name: 'a', value: '1' }], { close: false });
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Malformed multipart/form-data body: it ends before its closing boundary' });
    });

    it('refuses a multipart body that never reaches its first boundary', async () => {
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body: 'a=1&b=2' });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Malformed multipart/form-data body: it ends before its closing boundary' });
    });

    it('refuses a multipart part whose header is malformed', async () => {
      const body = `--${BOUNDARY}\r\nContent-Disposition form-data; name="a"\r\n\r\n1\r\n--${BOUNDARY}--\r\n`;
      const r = await refusal({ headers: { 'Content-Type': MULTIPART }, body });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Malformed multipart/form-data body: a part has a malformed header' });
    });

    it('refuses a multipart content type without a boundary', async () => {
      const r = await refusal({ headers: { 'Content-Type': 'multipart/form-data' }, body: multipartBody([{ name: 'a', value: '1' }]) });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 'BAD_REQUEST', message: 'Content-Type multipart/form-data needs a boundary parameter' });
    });
  });

  describe('session and bearer token', () => {
    it('takes the session from the session.id parameter', async () => {
      const r = await echo({ method: 'GET', path: '/?session.id=abc' });
      assert.equal(r.session, 'abc');
    });

    it('takes the session from a session.id multipart field', async () => {
      const r = await echo({ headers: { 'Content-Type': MULTIPART }, body: multipartBody([{ name: 'session.id', value: 'from-form' }]) });
      assert.equal(r.session, 'from-form');
    });

    it('takes the session from the azkaban.browser.session.id cookie when no parameter names one', async () => {
      const r = await echo({ method: 'GET', headers: { Cookie: 'theme=dark; azkaban.browser.session.id=c00k1e-%3D; other=1' } });
      assert.equal(r.session, 'c00k1e-=');
    });

    it('reads a quoted session cookie', async () => {
      const r = await echo({ method: 'GET', headers: { Cookie: 'azkaban.browser.session.id="q-1"' } });
      assert.equal(r.session, 'q-1');
    });

    it('prefers the session.id parameter to the cookie, and ignores an empty one', async () => {
      const both = await echo({ method: 'GET', path: '/?session.id=param', headers: { Cookie: 'azkaban.browser.session.id=cookie' } });
      assert.equal(both.session, 'param');
      const empty = await echo({ method: 'GET', path: '/?session.id=', headers: { Cookie: 'azkaban.browser.session.id=cookie' } });
      assert.equal(empty.session, 'cookie');
    });

    it('finds no session when neither parameter nor cookie carries one', async () => {
      const r = await echo({ method: 'GET', headers: { Cookie: 'xazkaban.browser.session.id=nope' } });
      assert.equal(r.session, null);
    });

    it('reads a bearer token, whatever the case of the scheme', async () => {
      assert.equal((await echo({ method: 'GET', headers: { Authorization: 'Bearer tok.en-1' } })).bearer, 'tok.en-1');
      assert.equal((await echo({ method: 'GET', headers: { Authorization: 'bearer  t2 ' } })).bearer, 't2');
    });

    it('finds no bearer token in other authorization schemes or an empty one', async () => {
      assert.equal((await echo({ method: 'GET', headers: { Authorization: 'Basic dTpw' } })).bearer, null);
      assert.equal((await echo({ method: 'GET', headers: { Authorization: 'Bearer ' } })).bearer, null);
      assert.equal((await echo({ method: 'GET' })).bearer, null);
    });
  });

  describe('reading once', () => {
    it('reads the body once even when the middleware is mounted twice and the handler reads again', async () => {
      const r = await echo({ headers: { 'Content-Type': FORM }, body: 'a=1' });
      assert.deepEqual(r.entries, [['a', '1']]);
      assert.equal(r.sameParamsOnSecondRead, true);
    });

    it('refuses getParams for a request the middleware did not read', () => {
      assert.throws(
        () => getParams({} as Request),
        (e: unknown) =>
          e instanceof CaissonError &&
          e.code === 'INTERNAL' &&
          e.message === 'Request parameters were not read: mount paramsMiddleware before this handler',
      );
    });
  });
});
