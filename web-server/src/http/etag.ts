/**
 * Conditional reads of an execution's status (issue 7): the validator comes from the execution row
 * alone — every write to the execution or one of its jobs bumps its update_time — so a poller whose
 * copy is current gets 304 after one row read, without the flow, the jobs or the view being rebuilt.
 */
import type express from 'express';
import type { ExecutionRow } from '../executions/executions-store.js';

/** A weak validator of one representation (`fetchexecflow`, `rest`) of the execution. */
export function executionETag(exec: ExecutionRow, representation: string): string {
  return `W/"${representation}-${exec.execId}-${exec.updateTime}-${exec.status}"`;
}

/** True when If-None-Match names `etag` (weak comparison, RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  const want = opaque(etag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === want);
}

/**
 * Sets the ETag (and `Cache-Control: no-cache`, so clients revalidate each time) and answers 304
 * when the caller's copy is current. Returns true when the response has been sent.
 */
export function answerIfNotModified(req: express.Request, res: express.Response, etag: string): boolean {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (!matchesIfNoneMatch(req.headers['if-none-match'], etag)) return false;
  res.status(304).end();
  return true;
}
