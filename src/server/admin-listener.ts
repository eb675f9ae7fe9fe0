// The admin listener a config asks for, built the same way whether one gateway serves
// alone or a supervisor serves for its worker threads: only the endpoints differ.
import type { Server } from 'node:http';
import { createAdminGuard } from '../admin/token.ts';
import { loadUiAssets } from '../admin/ui-assets.ts';
import type { Config } from '../config/schema.ts';
import { type AdminDeps, createAdminServer } from './admin-server.ts';

/** What the caller answers with; the token guard and the dashboard's files come from here. */
export type AdminEndpoints = Omit<AdminDeps, 'guard' | 'ui'>;

/** The admin server for `admin`, not yet listening; undefined when admin.enabled is false. */
export function adminServerFor(admin: Config['admin'], endpoints: AdminEndpoints): Server | undefined {
  if (!admin.enabled) return undefined;
  return createAdminServer({ ...endpoints, guard: createAdminGuard(admin.token), ui: loadUiAssets() });
}
