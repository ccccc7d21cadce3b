/**
 * The error catalog. Every error that crosses a module boundary is a CaissonError with a stable
 * code; the HTTP layers map codes to status codes in one place (web-server/src/http/middleware).
 */

export const ERROR_CODES = {
  BAD_REQUEST: 400,
  INVALID_CONFIG: 500,
  INVALID_ARCHIVE: 400,
  INVALID_PROJECT: 400,
  INVALID_FLOW_YAML: 400,
  INVALID_PARAMETER: 400,
  UNAUTHENTICATED: 401,
  LOGIN_FAILED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PROJECT_NOT_FOUND: 404,
  FLOW_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  EXECUTION_NOT_FOUND: 404,
  EXECUTION_FINAL: 409,
  CONFLICT: 409,
  PROJECT_EXISTS: 409,
  USER_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  NOT_SUPPORTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem found while validating input; a validation error may carry several. */
export interface Problem {
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

export interface CaissonErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  problems?: Problem[];
  details?: Record<string, unknown>;
}

export class CaissonError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly problems: Problem[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CaissonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CaissonError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.problems = options.problems ?? [];
    this.details = options.details ?? {};
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

export function isCaissonError(e: unknown): e is CaissonError {
  return e instanceof CaissonError;
}

/** Formats a problem as `file:line:column: message` (parts omitted when unknown). */
export function formatProblem(p: Problem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined && x !== '').join(':');
  return where ? `${where}: ${p.message}` : p.message;
}
