// A tiny in-memory JSON collection served over node:http. Every answer says which
// instance served it and what identity/correlation headers arrived, so the demo makes
// visible what the gateway added (X-User-*, X-Request-ID) and how it balanced.
import { createServer, type IncomingMessage } from 'node:http';
import type { RunningService } from './http.ts';
import { close, listen, readJson, sendJson } from './http.ts';

export type Item = { id: string } & Record<string, unknown>;

function received(req: IncomingMessage) {
  return {
    path: req.url,
    'x-user-id': req.headers['x-user-id'] ?? null,
    'x-user-roles': req.headers['x-user-roles'] ?? null,
    'x-request-id': req.headers['x-request-id'] ?? null,
  };
}

export async function startJsonService(
  name: string,
  seed: Item[],
  port: number,
  host = '127.0.0.1',
): Promise<RunningService> {
  const items = new Map(seed.map((item) => [item.id, { ...item }]));
  const servedBy = `${name}@${port}`;

  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
    const meta = { served_by: servedBy, received: received(req) };
    if (req.method === 'GET' && path === '/health')
      return sendJson(res, 200, { status: 'ok', served_by: servedBy });
    if (req.method === 'GET' && path === '/')
      return sendJson(res, 200, { ...meta, data: [...items.values()] });
    if (req.method === 'POST' && path === '/') {
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return sendJson(res, 400, { ...meta, error: 'expected a JSON object' });
      }
      // Ids are per instance: two orders instances do not share state, as in any demo.
      const item: Item = { ...body, id: String(items.size + 1) };
      items.set(item.id, item);
      return sendJson(res, 201, { ...meta, data: item });
    }
    const id = /^\/([^/]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && id !== undefined) {
      const item = items.get(decodeURIComponent(id));
      return item
        ? sendJson(res, 200, { ...meta, data: item })
        : sendJson(res, 404, { ...meta, error: 'not found' });
    }
    sendJson(res, id === undefined && path !== '/' ? 404 : 405, { ...meta, error: 'not supported' });
  });
  await listen(server, port, host, `${name} service`);
  return { url: `http://${host}:${port}`, close: () => close(server) };
}
