// Demo users service (behind /api/users, auth required).
import type { RunningService } from './http.ts';
import { startJsonService } from './json-service.ts';

export function startUsersService(port: number, host?: string): Promise<RunningService> {
  return startJsonService(
    'users',
    [
      { id: '1', name: 'Alice', email: 'alice@example.com' },
      { id: '2', name: 'Bob', email: 'bob@example.com' },
    ],
    port,
    host,
  );
}

if (import.meta.main) {
  const service = await startUsersService(Number(process.env.PORT ?? 3001), process.env.HOST);
  console.log(`users service on ${service.url}`);
}
