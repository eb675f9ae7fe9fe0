// Demo catalog service: the public route (/public, auth: none), so the rate limit
// can be shown with nothing but curl.
import type { RunningService } from './http.ts';
import { startJsonService } from './json-service.ts';

export function startCatalogService(port: number): Promise<RunningService> {
  return startJsonService(
    'catalog',
    [
      { id: 'keyboard', price: 49 },
      { id: 'monitor', price: 199 },
    ],
    port,
  );
}

if (import.meta.main) {
  const service = await startCatalogService(Number(process.env.PORT ?? 3004));
  console.log(`catalog service on ${service.url}`);
}
