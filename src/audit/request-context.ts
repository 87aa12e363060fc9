import { AsyncLocalStorage } from 'node:async_hooks';

/** What the audit trail knows about the HTTP request that caused an event. */
export interface RequestContext {
  requestId: string;
  clientIp?: string;
}

/** Set by `RequestContextMiddleware` for the library's routes; empty in jobs and outside HTTP. */
export const requestContext = new AsyncLocalStorage<RequestContext>();
