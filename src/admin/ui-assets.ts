// The dashboard's files (src/admin/ui/): plain ES modules and CSS, read once at start
// and served from memory by the admin listener. No external asset: the page works on
// an isolated network, and its Content-Security-Policy allows nothing but itself.
import { readFileSync } from 'node:fs';

export interface UiAsset {
  readonly type: string;
  readonly body: Buffer;
}

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/ui/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/ui/style.css': ['style.css', 'text/css; charset=utf-8'],
};

export const UI_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

export function loadUiAssets(): ReadonlyMap<string, UiAsset> {
  const assets = new Map<string, UiAsset>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    assets.set(path, { type, body: readFileSync(new URL(`./ui/${file}`, import.meta.url)) });
  }
  return assets;
}
