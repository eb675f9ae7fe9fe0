// The admin listener: dashboard, route explainer, metrics, status, health, readiness
// and reload. Bound to 127.0.0.1 by default and never served on the public port. Each
// endpoint's work lives in src/admin/; this file is the listener and its dispatch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type DescribedRequest, describedRequest, type RouteExplanation } from '../admin/route-explainer.ts';
import { type AdminGuard, OPEN_PATHS } from '../admin/token.ts';
import { UI_HEADERS, type UiAsset } from '../admin/ui-assets.ts';
import { errorBody } from '../errors.ts';
import type { Lifecycle } from './data-plane.ts';
import { sendJson } from './send.ts';

export interface AdminDeps {
  /** The Prometheus text: one gateway's registry, or the sum over its workers. */
  readonly metrics: { readonly registry: { metrics(): Promise<string>; readonly contentType: string } };
  readonly lifecycle: Lifecycle;
  readonly status: () => unknown | Promise<unknown>;
  /** Reloads the config file; resolves with a description of the outcome. */
  readonly reload: () => Promise<{ ok: boolean; errors?: readonly string[] }>;
  /** Checks the admin token on every endpoint but /health, /ready and the dashboard's static files. */
  readonly guard: AdminGuard;
  /** The dashboard's data (GET /api/state). */
  readonly state: () => unknown | Promise<unknown>;
  readonly explain: (request: DescribedRequest) => RouteExplanation | Promise<RouteExplanation>;
  /** The dashboard's static files by path; they hold no data, so they need no token. */
  readonly ui: ReadonlyMap<string, UiAsset>;
}

const ENDPOINTS =
  'Admin endpoints: GET / (dashboard), /api/state, /debug/route, /metrics, /status, /health, /ready; POST /debug/route, /reload';
const MAX_EXPLAIN_BODY = 64 * 1024;

export function createAdminServer(deps: AdminDeps): Server {
  return createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? deps.ui.get(path) : undefined;
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, ...UI_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (!OPEN_PATHS.has(path) && !deps.guard(req)) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer realm="gatehouse-admin"',
        'cache-control': 'no-store',
      });
      res.end(
        errorBody('UNAUTHORIZED', 'The admin endpoints need "Authorization: Bearer <admin.token>"', ''),
      );
      return;
    }
    const answer = async () => {
      switch (`${req.method} ${path}`) {
        case 'GET /metrics': {
          const text = await deps.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          res.end(text);
          return;
        }
        case 'GET /status':
          return sendJson(res, 200, await deps.status());
        case 'GET /api/state':
          return sendJson(res, 200, await deps.state(), { 'cache-control': 'no-store' });
        case 'GET /debug/route':
          return explain(deps, res, url.searchParams, undefined);
        case 'POST /debug/route':
          return explain(deps, res, url.searchParams, await readJson(req));
        case 'GET /health':
          return sendJson(res, 200, { status: 'ok' });
        case 'GET /ready': {
          const ready = deps.lifecycle.ready && !deps.lifecycle.draining;
          return sendJson(res, ready ? 200 : 503, {
            status: ready ? 'ready' : deps.lifecycle.draining ? 'draining' : 'starting',
          });
        }
        case 'POST /reload': {
          const result = await deps.reload();
          return sendJson(res, result.ok ? 200 : 422, result);
        }
        default: {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(errorBody('ROUTE_NOT_FOUND', ENDPOINTS, ''));
        }
      }
    };
    answer().catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'INTERNAL_ERROR', message: String(error), request_id: '' } });
      else res.destroy();
    });
  });
}

async function explain(
  deps: AdminDeps,
  res: ServerResponse,
  query: URLSearchParams,
  body: unknown,
): Promise<void> {
  if (body instanceof BadBody) {
    badRequest(res, body.message);
    return;
  }
  const parsed = describedRequest(query, body);
  if (parsed.ok) sendJson(res, 200, await deps.explain(parsed.request));
  else badRequest(res, parsed.problem);
}

function badRequest(res: ServerResponse, message: string): void {
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(errorBody('BAD_REQUEST', message, ''));
}

class BadBody {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** The request body as JSON, or a BadBody saying why not (too large, not JSON). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_EXPLAIN_BODY) return new BadBody(`the body is over ${MAX_EXPLAIN_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return new BadBody('the body is not JSON');
  }
}
