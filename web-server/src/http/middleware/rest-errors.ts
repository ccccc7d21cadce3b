/** The REST error middleware: CaissonError → its HTTP status with `{code, message, problems}`. */
import type express from 'express';
import { isCaissonError } from '../../../../common/errors.js';
import type { Logger } from '../../log.js';

export function restErrorHandler(log: Logger): express.ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (isCaissonError(err)) {
      const body: Record<string, unknown> = { code: err.code, message: err.message };
      if (err.problems.length > 0) body.problems = err.problems;
      if (err.retryable) body.retryable = true;
      res.status(err.httpStatus).json(body);
      return;
    }
    const e = err as { type?: string; status?: number; expose?: boolean; limit?: number; message?: string };
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ code: 'BAD_REQUEST', message: `The request body is not valid JSON: ${e.message ?? ''}`.trim() });
      return;
    }
    // express.json / express.raw refusals (body over the limit, unsupported encoding or charset) are the client's doing.
    if (e?.type === 'entity.too.large') {
      res.status(413).json({ code: 'PAYLOAD_TOO_LARGE', message: `The request body is larger than the limit of ${e.limit ?? '?'} bytes.` });
      return;
    }
    if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(400).json({ code: 'BAD_REQUEST', message: `The request body cannot be read: ${e.message ?? ''}`.trim() });
      return;
    }
    log.error({ err }, 'REST request failed unexpectedly');
    res.status(500).json({ code: 'INTERNAL', message: 'Internal error; the server log has the details.' });
  };
}
