/**
 * Request parameters read the way Azkaban's servlets read them: the query string first, then the
 * body, whether it is urlencoded (`curl --data`), multipart (uploads, some clients' POSTs) or — for
 * our REST API — a JSON object. Bodies are read here, not by express.urlencoded/json, so every
 * AJAX endpoint accepts all of them, including bodies sent with `Transfer-Encoding: chunked` and
 * multipart bodies that start with blank lines before the first boundary. Text is UTF-8.
 */
import busboy from 'busboy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { CaissonError } from '../../../common/errors.js';

export interface UploadedFile {
  field: string;
  filename: string;
  mimeType: string;
  content: Buffer;
}

export interface RequestParams {
  /** The first value of a text parameter (query string before body). */
  get(name: string): string | undefined;
  /** Every value of a text parameter, in order: query string, then body. */
  getAll(name: string): string[];
  /** Whether a text parameter is present, even with an empty value. Files are not parameters. */
  has(name: string): boolean;
  entries(): [string, string][];
  files: UploadedFile[];
  /** The first file uploaded under a multipart field. */
  file(field: string): UploadedFile | undefined;
  /** names of fields given in the query string */
  queryNames: Set<string>;
}

export interface ParamLimits {
  /**
   * Largest urlencoded or JSON body, and largest value of one multipart text field. A multipart
   * body as a whole may hold `maxBodyBytes + maxFiles × maxFileBytes`.
   */
  maxBodyBytes: number;
  /** Largest file of a multipart body; files are kept in memory. */
  maxFileBytes: number;
  /** Most text fields in a body (the query string is bounded by the header size limit). */
  maxFields: number;
  /** Most files in a multipart body. */
  maxFiles: number;
}

const FORM = 'application/x-www-form-urlencoded';
const MULTIPART = 'multipart/form-data';
const JSON_TYPE = 'application/json';
const ACCEPTED = `send ${FORM}, ${MULTIPART} or ${JSON_TYPE}`;
const SESSION_PARAM = 'session.id';
const SESSION_COOKIE = 'azkaban.browser.session.id';

const pending = new WeakMap<Request, Promise<RequestParams>>();
const parsed = new WeakMap<Request, RequestParams>();

/**
 * Reads the query string and the body of `req`. The body is read once: a second call for the same
 * request answers the first call's result (and its limits).
 */
export function readRequestParams(req: Request, limits: ParamLimits): Promise<RequestParams> {
  let result = pending.get(req);
  if (!result) {
    result = parseRequest(req, limits).then((params) => {
      parsed.set(req, params);
      return params;
    });
    pending.set(req, result);
  }
  return result;
}

/** Reads every request's parameters before the handlers run; handlers call `getParams(req)`. */
export function paramsMiddleware(limits: ParamLimits): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    readRequestParams(req, limits).then(() => next(), next);
  };
}

/** The parameters `paramsMiddleware` read for this request. */
export function getParams(req: Request): RequestParams {
  const params = parsed.get(req);
  if (!params) {
    throw new CaissonError('INTERNAL', 'Request parameters were not read: mount paramsMiddleware before this handler');
  }
  return params;
}

/** The session from the `session.id` parameter, else from the `azkaban.browser.session.id` cookie. */
export function sessionIdFrom(req: Request, params: RequestParams): string | undefined {
  const fromParam = params.get(SESSION_PARAM);
  if (fromParam) return fromParam;
  return cookieFrom(req, SESSION_COOKIE) || undefined;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerTokenFrom(req: Request): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function cookieFrom(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return decodeLeniently(value);
  }
  return undefined;
}

function decodeLeniently(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

class ParsedParams implements RequestParams {
  constructor(
    private readonly pairs: readonly [string, string][],
    readonly files: UploadedFile[],
    readonly queryNames: Set<string>,
  ) {}

  get(name: string): string | undefined {
    return this.pairs.find(([n]) => n === name)?.[1];
  }

  getAll(name: string): string[] {
    return this.pairs.filter(([n]) => n === name).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.pairs.some(([n]) => n === name);
  }

  entries(): [string, string][] {
    return this.pairs.map(([n, v]) => [n, v]);
  }

  file(field: string): UploadedFile | undefined {
    return this.files.find((f) => f.field === field);
  }
}

interface BodyParams {
  fields: [string, string][];
  files: UploadedFile[];
}

async function parseRequest(req: Request, limits: ParamLimits): Promise<RequestParams> {
  const url = req.originalUrl || req.url;
  const q = url.indexOf('?');
  const query = q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))];
  const body = await readBody(req, limits);
  return new ParsedParams([...query, ...body.fields], body.files, new Set(query.map(([name]) => name)));
}

async function readBody(req: Request, limits: ParamLimits): Promise<BodyParams> {
  if (req.readableEnded) return fromAlreadyParsedBody(req.body);
  // Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body (RFC 9112 §6.3):
  // nothing to wait for (status pollers' GETs).
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return { fields: [], files: [] };
  try {
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      throw new CaissonError('BAD_REQUEST', `Content-Encoding "${encoding}" is not supported; send the body uncompressed`);
    }
    const contentType = req.headers['content-type'];
    const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
    if (type === MULTIPART) return await readMultipart(req, contentType ?? '', limits);
    const raw = await readRaw(req, limits.maxBodyBytes);
    if (raw.length === 0) return { fields: [], files: [] };
    if (type === FORM) return { fields: countFields(formFields(raw.toString('utf8')), limits), files: [] };
    if (type === JSON_TYPE) return { fields: countFields(jsonFields(raw), limits), files: [] };
    throw new CaissonError(
      'BAD_REQUEST',
      type ? `Unsupported Content-Type "${type}"; ${ACCEPTED}` : `A request body needs a Content-Type; ${ACCEPTED}`,
    );
  } catch (e) {
    req.resume(); // discard what is left of the body; the answer can go out now
    throw e;
  }
}

/** A body some earlier middleware consumed: keep what it parsed, if it is a plain object. */
function fromAlreadyParsedBody(body: unknown): BodyParams {
  const isObject = body !== null && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body);
  return { fields: isObject ? objectFields(body as Record<string, unknown>) : [], files: [] };
}

function formFields(text: string): [string, string][] {
  return [...new URLSearchParams(text)];
}

function jsonFields(raw: Buffer): [string, string][] {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new CaissonError('BAD_REQUEST', 'Request body is not valid JSON', { cause: e });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CaissonError('BAD_REQUEST', 'A JSON request body must be an object of parameters');
  }
  return objectFields(value as Record<string, unknown>);
}

/** Scalars become strings, nulls are absent, arrays and objects become their JSON text. */
function objectFields(obj: Record<string, unknown>): [string, string][] {
  const fields: [string, string][] = [];
  for (const [name, value] of Object.entries(obj)) {
    if (value === null || value === undefined) continue;
    fields.push([name, typeof value === 'object' ? JSON.stringify(value) : String(value)]);
  }
  return fields;
}

function countFields(fields: [string, string][], limits: ParamLimits): [string, string][] {
  if (fields.length > limits.maxFields) throw tooManyFields(limits);
  return fields;
}

function tooManyFields(limits: ParamLimits): CaissonError {
  return new CaissonError('PAYLOAD_TOO_LARGE', `Request body has more than ${limits.maxFields} fields`);
}

function bodyTooLarge(limit: number): CaissonError {
  return new CaissonError('PAYLOAD_TOO_LARGE', `Request body is larger than the limit of ${formatMiB(limit)}`);
}

function declaredLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined || req.headers['transfer-encoding'] !== undefined ? undefined : Number(header);
}

interface BodyPump {
  /** Resolves when the body ended; rejects when it is too large or the client went away first. */
  done: Promise<void>;
  /** Stops handing chunks to `onChunk` (what is left of the body is discarded). */
  stop(): void;
}

/** Streams the body into `onChunk`, refusing more than `limit` bytes (at once when Content-Length says so). */
function pumpBody(req: Request, limit: number, onChunk: (chunk: Buffer) => void): BodyPump {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) {
    return { done: Promise.reject(bodyTooLarge(limit)), stop: () => undefined };
  }
  let stop = (): void => undefined;
  const done = new Promise<void>((resolve, reject) => {
    let received = 0;
    const detach = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (e: unknown): void => {
      detach();
      req.resume();
      reject(e);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit) return fail(bodyTooLarge(limit));
      try {
        onChunk(chunk);
      } catch (e) {
        fail(e);
      }
    };
    const onEnd = (): void => {
      detach();
      resolve();
    };
    const onError = (e: Error): void =>
      fail(new CaissonError('BAD_REQUEST', 'The request body ended before it was complete', { cause: e }));
    const onClose = (): void => {
      if (!req.readableEnded) onError(new Error('connection closed'));
    };
    stop = () => {
      detach();
      req.resume();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
  return { done, stop };
}

async function readRaw(req: Request, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pumpBody(req, limit, (chunk) => chunks.push(chunk)).done;
  return Buffer.concat(chunks);
}

function readMultipart(req: Request, contentType: string, limits: ParamLimits): Promise<BodyParams> {
  if (!/;\s*boundary\s*=\s*("[^"]+"|[^\s;"]+)/i.test(contentType)) {
    throw new CaissonError('BAD_REQUEST', `Content-Type ${MULTIPART} needs a boundary parameter`);
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defCharset: 'utf8',
      defParamCharset: 'utf8',
      limits: {
        fieldNameSize: limits.maxBodyBytes,
        // busboy reports a value that *reaches* its limit as truncated; ours refuse only beyond
        fieldSize: limits.maxBodyBytes + 1,
        fields: limits.maxFields,
        fileSize: limits.maxFileBytes + 1,
        files: limits.maxFiles,
      },
    });
  } catch (e) {
    throw new CaissonError('BAD_REQUEST', `Malformed ${MULTIPART} Content-Type: ${(e as Error).message}`, { cause: e });
  }
  const result: BodyParams = { fields: [], files: [] };

  const parsing = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        reject(
          new CaissonError('PAYLOAD_TOO_LARGE', `Multipart field "${name}" is larger than the limit of ${formatMiB(limits.maxBodyBytes)}`),
        );
      }
      result.fields.push([name, value]);
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        reject(
          new CaissonError(
            'PAYLOAD_TOO_LARGE',
            `Multipart file field "${field}" is larger than the limit of ${formatMiB(limits.maxFileBytes)}`,
          ),
        );
      });
      stream.on('end', () => {
        result.files.push({ field, filename: info.filename ?? '', mimeType: info.mimeType, content: Buffer.concat(chunks) });
      });
      stream.on('error', () => undefined); // reported through the parser's own error
    });
    parser.on('fieldsLimit', () => reject(tooManyFields(limits)));
    parser.on('filesLimit', () => {
      reject(new CaissonError('PAYLOAD_TOO_LARGE', `Request body has more than ${limits.maxFiles} files`));
    });
    parser.on('error', (e: Error) => reject(malformedMultipart(e)));
    parser.on('close', () => resolve());
  });

  // Some clients start the body with blank lines before the first boundary; busboy expects the
  // boundary (or a preamble ending in CRLF) first, so leading CR and LF bytes are dropped.
  let atStart = true;
  let sawContent = false;
  const pump = pumpBody(req, limits.maxBodyBytes + limits.maxFiles * limits.maxFileBytes, (chunk) => {
    let data = chunk;
    if (atStart) {
      let i = 0;
      while (i < data.length && (data[i] === 0x0d || data[i] === 0x0a)) i++;
      if (i === data.length) return;
      atStart = false;
      data = data.subarray(i);
    }
    sawContent = true;
    if (!parser.write(data)) {
      req.pause();
      parser.once('drain', () => req.resume());
    }
  });

  return new Promise<BodyParams>((resolve, reject) => {
    const fail = (e: unknown): void => {
      pump.stop();
      parser.destroy();
      reject(e);
    };
    parsing.catch(fail);
    pump.done.then(() => {
      if (!sawContent) return resolve(result); // an empty multipart body carries no parameters
      parser.end();
      parsing.then(() => resolve(result), fail);
    }, fail);
  });
}

function malformedMultipart(e: Error): CaissonError {
  const reason =
    e.message === 'Unexpected end of form' || e.message === 'Unexpected end of file'
      ? 'it ends before its closing boundary'
      : e.message === 'Malformed part header'
        ? 'a part has a malformed header'
        : e.message;
  return new CaissonError('BAD_REQUEST', `Malformed ${MULTIPART} body: ${reason}`, { cause: e });
}

/** `1 MiB`, `0.5 MiB`; limits below 0.01 MiB in bytes. */
function formatMiB(bytes: number): string {
  const mib = Math.round((bytes / (1024 * 1024)) * 100) / 100;
  return mib > 0 ? `${mib} MiB` : `${bytes} bytes`;
}
