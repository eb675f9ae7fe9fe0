// Demo catalog service: the public route (/public, auth: none), so the rate limit
// can be shown with nothing but curl.
import type { RunningService } from './http.ts';
import { startJsonService } from './json-service.ts';

export function startCatalogService(port: number, host?: string): Promise<RunningService> {
  return startJsonService(
    'catalog',
    [
      { id: 'keyboard', price: 49 },
      { id: 'monitor', price: 199 },
    ],
    port,
    host,
  );
}

if (import.meta.main) {
  const service = await startCatalogService(Number(process.env.PORT ?? 3004), process.env.HOST);
  console.log(`catalog service on ${service.url}`);
}
