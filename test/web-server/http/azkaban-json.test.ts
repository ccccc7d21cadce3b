import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { formatAzkabanJson, sendAjax, sendAjaxError } from '../../../web-server/src/http/ajax/azkaban-json.js';

describe('formatAzkabanJson', () => {
  it('prints the session error exactly as Azkaban clients match it', () => {
    assert.equal(formatAzkabanJson({ error: 'session' }), '{\n  "error" : "session"\n}');
  });

  it('prints one field per line with two spaces per level and a space around the colon', () => {
    const value = { project: 'p', execid: 7, flow: { id: 'f', nested: { ok: true } } };
    assert.equal(
      formatAzkabanJson(value),
      [
        '{',
        '  "project" : "p",',
        '  "execid" : 7,',
        '  "flow" : {',
        '    "id" : "f",',
        '    "nested" : {',
        '      "ok" : true',
        '    }',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('prints arrays inline with a space inside the brackets and after each comma', () => {
    assert.equal(formatAzkabanJson({ ids: [1, 2, 3], names: ['a', 'b'] }), '{\n  "ids" : [ 1, 2, 3 ],\n  "names" : [ "a", "b" ]\n}');
    assert.equal(formatAzkabanJson([1, [2, 3]]), '[ 1, [ 2, 3 ] ]');
  });

  it('indents objects inside an array from the level of the array owner', () => {
    const value = { nodes: [{ id: 'a', in: ['b'] }, { id: 'b' }] };
    assert.equal(
      formatAzkabanJson(value),
      ['{', '  "nodes" : [ {', '    "id" : "a",', '    "in" : [ "b" ]', '  }, {', '    "id" : "b"', '  } ]', '}'].join('\n'),
    );
  });

  it('prints a top-level array of objects at level zero', () => {
    assert.equal(formatAzkabanJson([{ a: 1 }, {}]), '[ {\n  "a" : 1\n}, { } ]');
  });

  it('prints empty containers as { } and [ ]', () => {
    assert.equal(formatAzkabanJson({}), '{ }');
    assert.equal(formatAzkabanJson([]), '[ ]');
    assert.equal(formatAzkabanJson({ a: {}, b: [] }), '{\n  "a" : { },\n  "b" : [ ]\n}');
  });

  it('escapes quotes, backslashes and control characters like Jackson, and leaves the rest as is', () => {
    assert.equal(formatAzkabanJson('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
    assert.equal(formatAzkabanJson('\b\t\n\f\r'), '"\\b\\t\\n\\f\\r"');
    assert.equal(formatAzkabanJson('\u0000\u0001\u001b\u001f'), '"\\u0000\\u0001\\u001B\\u001F"');
    assert.equal(formatAzkabanJson('a/b </script> \u007f'), '"a/b </script> \u007f"');
    assert.equal(formatAzkabanJson('héllo 日本 😀 \u2028'), '"héllo 日本 😀 \u2028"');
  });

  it('escapes lone surrogates, which UTF-8 cannot carry', () => {
    assert.equal(formatAzkabanJson('x\ud800y\udc00'), '"x\\uD800y\\uDC00"');
  });

  it('escapes object keys like string values', () => {
    assert.equal(formatAzkabanJson({ 'a"b\n': 1 }), '{\n  "a\\"b\\n" : 1\n}');
  });

  it('prints integers, negatives and floats as JavaScript numbers, and non-finite numbers as null', () => {
    assert.equal(
      formatAzkabanJson([0, -1, 1700000000000, 1.5, -0.25, 1e21, -0, Number.NaN, Infinity]),
      '[ 0, -1, 1700000000000, 1.5, -0.25, 1e+21, 0, null, null ]',
    );
    assert.equal(formatAzkabanJson(12345678901234567890n), '12345678901234567890');
  });

  it('prints null and booleans', () => {
    assert.equal(formatAzkabanJson({ a: null, b: true, c: false }), '{\n  "a" : null,\n  "b" : true,\n  "c" : false\n}');
    assert.equal(formatAzkabanJson(null), 'null');
  });

  it('omits undefined fields and prints undefined array items as null, like JSON.stringify', () => {
    assert.equal(formatAzkabanJson({ a: undefined, b: 1, c: () => 1 }), '{\n  "b" : 1\n}');
    assert.equal(formatAzkabanJson({ a: undefined }), '{ }');
    assert.equal(formatAzkabanJson([undefined, 1]), '[ null, 1 ]');
    assert.equal(formatAzkabanJson(undefined), 'null');
  });

  it('uses toJSON like JSON.stringify', () => {
    assert.equal(formatAzkabanJson({ at: new Date(0) }), '{\n  "at" : "1970-01-01T00:00:00.000Z"\n}');
  });

  it('refuses a value with a cycle', () => {
    const value: Record<string, unknown> = {};
    value.self = value;
    assert.throws(() => formatAzkabanJson(value), { name: 'TypeError', message: 'formatAzkabanJson: the value contains a cycle' });
  });

  it('prints the same object twice when it is shared but not cyclic', () => {
    const shared = { a: 1 };
    assert.equal(formatAzkabanJson([shared, shared]), '[ {\n  "a" : 1\n}, {\n  "a" : 1\n} ]');
  });

  it('ends without a trailing newline', () => {
    assert.equal(formatAzkabanJson({ a: 1 }).endsWith('}'), true);
  });
});

describe('sendAjax and sendAjaxError', () => {
  let server: Server;
  let base: string;

  before(async () => {
    const app = express();
    app.get('/ok', (_req, res) => sendAjax(res, { status: 'success', 'session.id': 'é-1' }));
    app.get('/error', (_req, res) => sendAjaxError(res, 'session'));
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  it('answers HTTP 200 with UTF-8 JSON in Azkaban layout', async () => {
    const res = await fetch(`${base}/ok`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = '{\n  "status" : "success",\n  "session.id" : "é-1"\n}';
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(await res.text(), body);
  });

  it('answers an error with HTTP 200 and an error field', async () => {
    const res = await fetch(`${base}/error`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(await res.text(), '{\n  "error" : "session"\n}');
  });
});
