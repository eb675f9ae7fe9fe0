// Checks every port the demo needs before anything starts, so a clash is reported
// once, by name, instead of as a half-started demo.
import { createServer } from 'node:net';

export interface PortClaim {
  port: number;
  host: string;
  label: string;
}

function isFree({ port, host }: PortClaim): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** Throws one error listing every claimed port that is already taken. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const taken: PortClaim[] = [];
  for (const claim of claims) if (!(await isFree(claim))) taken.push(claim);
  if (taken.length === 0) return;
  const lines = taken.map(
    (c) => `  port ${c.port} (${c.label}) is already in use: see \`lsof -i :${c.port}\``,
  );
  throw new Error(
    `cannot start:\n${lines.join('\n')}\n` +
      'Stop what holds it (an earlier demo?) or change the port in demo/gateway.yaml.',
  );
}
