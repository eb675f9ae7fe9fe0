// The admin token: with `admin.token` set, every admin endpoint but the probes needs
// `Authorization: Bearer <token>`. Both sides are hashed before timingSafeEqual, so the
// comparison takes the same time whatever the presented value's length or content.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Served without the token: orchestrators probe them and they reveal nothing. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/health', '/ready']);

/** Whether a request may use the admin endpoints; always true when no token is configured. */
export type AdminGuard = (req: IncomingMessage) => boolean;

export function createAdminGuard(token: string | undefined): AdminGuard {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !/^bearer /i.test(header)) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
