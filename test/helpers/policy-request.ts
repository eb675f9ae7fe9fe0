// A request view for unit tests of policies: the same contract the data plane hands
// them (src/policies/policy.ts), with the same header checks, and what the policy set
// kept in plain records for assertions. No IncomingMessage involved.
import type { IncomingHttpHeaders } from 'node:http';
import { pino } from 'pino';
import type { Identity } from '../../src/auth/identity.ts';
import { checkResponseHeader, checkUpstreamHeader } from '../../src/policies/header-guard.ts';
import type { ChainRequest } from '../../src/policies/policy.ts';

export interface TestRequest extends ChainRequest {
  /** What the policies added to the answer, by lower-case name. */
  readonly responseHeaders: Record<string, string>;
  /** What the policies set for the upstream, by lower-case name. */
  readonly upstreamHeaders: Record<string, string>;
}

export interface TestRequestInit {
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  /** Lower-case names; rawHeaders are derived from them unless given. */
  readonly headers?: IncomingHttpHeaders;
  readonly rawHeaders?: readonly string[];
  readonly clientIp?: string;
  readonly requestId?: string;
  readonly route?: string;
  readonly identity?: Identity;
  /** Arrived over HTTPS (default false). */
  readonly secure?: boolean;
  readonly clientCertSubject?: string;
  /** The connection's key object (default: a new one per request). */
  readonly connection?: object;
}

const silent = pino({ level: 'silent' });
const IDENTITY_NAMES: ReadonlySet<string> = new Set(['x-user-id', 'x-user-roles']);

export function testRequest(init: TestRequestInit = {}): TestRequest {
  const headers = Object.freeze({ ...init.headers });
  const rawHeaders =
    init.rawHeaders ??
    Object.entries(headers).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value ?? '']).flatMap((one) => [name, String(one)]),
    );
  const responseHeaders: Record<string, string> = {};
  const upstreamHeaders: Record<string, string> = {};
  return {
    method: init.method ?? 'GET',
    path: init.path ?? '/api',
    query: init.query ?? '',
    headers,
    rawHeaders,
    connection: init.connection ?? {},
    clientIp: init.clientIp ?? '127.0.0.1',
    requestId: init.requestId ?? 'req-1',
    route: init.route ?? '/api',
    identity: init.identity,
    secure: init.secure ?? false,
    clientCertSubject: init.clientCertSubject,
    log: silent,
    responseHeaders,
    upstreamHeaders,
    setUpstreamHeader(name, value) {
      upstreamHeaders[checkUpstreamHeader(name, value, IDENTITY_NAMES)] = value;
    },
    setResponseHeader(name, value) {
      responseHeaders[checkResponseHeader(name, value)] = value;
    },
  };
}
