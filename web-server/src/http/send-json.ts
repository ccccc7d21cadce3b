import type { Response } from 'express';

/** Answers HTTP 200 with JSON already rendered. */
export function sendJsonText(res: Response, text: string): void {
  res.status(200);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text, 'utf8'));
  res.end(text, 'utf8');
}
