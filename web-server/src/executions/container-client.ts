/** HTTP client for a flow container's control API (ping, cancel, retry of failed jobs, live logs), with timeouts. */
import type { CancelResponse, LogSlice, PingResponse, RetryFailedResponse } from '../../../common/control-api.js';

export class ContainerClient {
  constructor(private readonly timeoutMs = 5_000) {}

  private async call<T>(baseUrl: string, token: string, method: string, path: string): Promise<T> {
    const res = await fetch(`${baseUrl.replace(/\/$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return (await res.json()) as T;
  }

  ping(baseUrl: string, token: string): Promise<PingResponse> {
    return this.call(baseUrl, token, 'GET', '/ping');
  }

  cancel(baseUrl: string, token: string): Promise<CancelResponse> {
    return this.call(baseUrl, token, 'POST', '/cancel');
  }

  retryFailed(baseUrl: string, token: string): Promise<RetryFailedResponse> {
    return this.call(baseUrl, token, 'POST', '/retry-failed');
  }

  logs(baseUrl: string, token: string, job: string | undefined, attempt: number, offset: number, length: number): Promise<LogSlice> {
    const q = new URLSearchParams({ attempt: String(attempt), offset: String(offset), length: String(length) });
    if (job) q.set('job', job);
    return this.call(baseUrl, token, 'GET', `/logs?${q.toString()}`);
  }
}
