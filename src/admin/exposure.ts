// The admin listener reads out the gateway's state and can reload it: without a token
// it belongs on loopback. `validate` and start warn when it is bound elsewhere.
import { isIP } from 'node:net';
import type { Config } from '../config/schema.ts';

/** A warning when the admin listener is reachable beyond this host with no token; else undefined. */
export function adminExposureWarning(config: Config): string | undefined {
  const { enabled, host, token } = config.admin;
  if (!enabled || token !== undefined || isLoopback(host)) return undefined;
  return `admin.host is ${host} and admin.token is not set: anyone who reaches that address can read the gateway's state and reload it. Set admin.token (ADMIN_TOKEN) or bind the admin listener to 127.0.0.1.`;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
