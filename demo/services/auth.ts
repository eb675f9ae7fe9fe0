// Demo auth service: issues JWTs for two fixed users and answers the gateway's
// remote verification (DESIGN.md, "Auth"). Its key pair is generated at startup, so
// every demo run invalidates the tokens of the previous one.
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from 'jose';
import { close, listen, type RunningService, readJson, sendJson } from './http.ts';

const ALG = 'ES256';
const ISSUER = 'gatehouse-demo-auth';
const TOKEN_TTL_S = 3600;

// Plain-text passwords: this is a demo, never a pattern.
const USERS: Record<string, { password: string; roles: string[] }> = {
  alice: { password: 'alice', roles: ['admin', 'user'] },
  bob: { password: 'bob', roles: ['user'] },
};

export async function startAuthService(port: number, host = '127.0.0.1'): Promise<RunningService> {
  const { publicKey, privateKey } = await generateKeyPair(ALG);
  const kid = `demo-${Date.now().toString(36)}`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' } satisfies JWK] };

  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'POST' && path === '/auth/login') {
        const body = (await readJson(req)) as { username?: unknown; password?: unknown } | undefined;
        if (typeof body?.username !== 'string' || typeof body.password !== 'string') {
          return sendJson(res, 400, { error: 'expected JSON {"username","password"}' });
        }
        const user = USERS[body.username];
        if (!user || user.password !== body.password)
          return sendJson(res, 401, { error: 'invalid credentials' });
        const token = await new SignJWT({ roles: user.roles })
          .setProtectedHeader({ alg: ALG, kid })
          .setSubject(body.username)
          .setIssuer(ISSUER)
          .setIssuedAt()
          .setExpirationTime(`${TOKEN_TTL_S}s`)
          .sign(privateKey);
        return sendJson(res, 200, { token, expires_in: TOKEN_TTL_S });
      }
      if (req.method === 'GET' && path === '/auth/verify') {
        const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        if (!match) return sendJson(res, 401, { error: 'missing bearer token' });
        try {
          const { payload } = await jwtVerify(match[1], publicKey, { issuer: ISSUER, algorithms: [ALG] });
          return sendJson(res, 200, { user_id: payload.sub, roles: payload.roles ?? [], exp: payload.exp });
        } catch {
          return sendJson(res, 401, { error: 'invalid token' });
        }
      }
      if (req.method === 'GET' && path === '/.well-known/jwks.json') return sendJson(res, 200, jwks);
      if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
      sendJson(res, 404, { error: 'not found' });
    } catch (error) {
      sendJson(res, 500, { error: String(error) });
    }
  });
  await listen(server, port, host, 'auth service');
  return { url: `http://${host}:${port}`, close: () => close(server) };
}

if (import.meta.main) {
  const service = await startAuthService(Number(process.env.PORT ?? 3000), process.env.HOST);
  console.log(`auth service on ${service.url}`);
}
