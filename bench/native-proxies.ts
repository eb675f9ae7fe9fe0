// Caddy, nginx and HAProxy as plain reverse proxies, for the rows that put a Gatehouse
// core next to theirs. Each gets a generated config in .bench/: one worker/thread (the
// process is pinned to one core anyway), keep-alive to the upstream, no access log, the
// path passed on unchanged. A row whose binary is not installed is skipped with a note.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, Launch } from './scenarios.ts';

export function installed(binary: string): boolean {
  try {
    execFileSync('which', [binary], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hostPort = (url: string) => new URL(url).host;

export function caddy(ctx: BenchContext): Launch {
  const file = join(ctx.workDir, 'Caddyfile');
  writeFileSync(
    file,
    `{
\tadmin off
\tauto_https off
}
http://127.0.0.1:${ctx.port} {
\tbind 127.0.0.1
\treverse_proxy ${hostPort(ctx.upstreamUrl)}
}
`,
  );
  return {
    command: 'caddy',
    args: ['run', '--config', file, '--adapter', 'caddyfile'],
    // One core: Go would otherwise run a scheduler thread per machine core.
    env: { GOMAXPROCS: '1', XDG_DATA_HOME: ctx.workDir, XDG_CONFIG_HOME: ctx.workDir },
    readyUrl: `http://127.0.0.1:${ctx.port}/api/hello`,
  };
}

export function nginx(ctx: BenchContext): Launch {
  const prefix = join(ctx.workDir, 'nginx');
  mkdirSync(prefix, { recursive: true });
  const file = join(prefix, 'nginx.conf');
  writeFileSync(
    file,
    `worker_processes 1;
daemon off;
master_process off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  upstream bench_upstream {
    server ${hostPort(ctx.upstreamUrl)};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${ctx.port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`,
  );
  // -e: nginx opens its default error log before it reads the config.
  return {
    command: 'nginx',
    args: ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', file],
    readyUrl: `http://127.0.0.1:${ctx.port}/api/hello`,
  };
}

export function haproxy(ctx: BenchContext): Launch {
  const file = join(ctx.workDir, 'haproxy.cfg');
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 65s
  timeout server 65s
  option http-keep-alive
  http-reuse always
frontend bench
  bind 127.0.0.1:${ctx.port}
  default_backend upstream
backend upstream
  server u1 ${hostPort(ctx.upstreamUrl)}
`,
  );
  return {
    command: 'haproxy',
    args: ['-db', '-f', file],
    readyUrl: `http://127.0.0.1:${ctx.port}/api/hello`,
  };
}
