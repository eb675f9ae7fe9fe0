// Demo orders service (behind /api/orders, auth required); the demo runs two
// instances of it to show round-robin balancing and health checks.
import type { RunningService } from './http.ts';
import { startJsonService } from './json-service.ts';

export function startOrdersService(port: number, host?: string): Promise<RunningService> {
  return startJsonService(
    'orders',
    [
      { id: '1', user: 'alice', item: 'keyboard', qty: 1 },
      { id: '2', user: 'bob', item: 'monitor', qty: 2 },
    ],
    port,
    host,
  );
}

if (import.meta.main) {
  const service = await startOrdersService(Number(process.env.PORT ?? 3002), process.env.HOST);
  console.log(`orders service on ${service.url}`);
}
