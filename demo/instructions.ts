// The curl walk-through printed once the demo is ready. Every line must work exactly
// as printed in bash/zsh with only curl, sed and grep (no jq).

export interface DemoUrls {
  gateway: string; // e.g. http://localhost:8080
  /** The HTTPS listener and the certificate curl should trust, when the demo serves one. */
  https?: { url: string; cacert: string };
  admin: string; // e.g. http://127.0.0.1:9090
  jwks: string;
  perClient: number;
  perClientBurst: number;
}

export function instructions(u: DemoUrls): string {
  const g = u.gateway;
  const auth = `-H "Authorization: Bearer $TOKEN"`;
  return `
# 1. Log in through the gateway (route /auth has auth: none) and keep the token (bob/bob has only [user]):
TOKEN=$(curl -s -X POST ${g}/auth/login -H 'Content-Type: application/json' -d '{"username":"alice","password":"alice"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/'); echo "$TOKEN"

# 2. Authenticated calls: "received" shows the X-User-ID, X-User-Roles and X-Request-ID the gateway sent upstream
curl -s -w '\\n' ${g}/api/users ${auth}
curl -s -w '\\n' ${g}/api/users/1 ${auth} -H 'X-Request-ID: demo-42'

# 3. Orders twice: "served_by" alternates between the two instances (round robin); then a create
curl -s -w '\\n' ${g}/api/orders ${auth}
curl -s -w '\\n' ${g}/api/orders ${auth}
curl -s -w '\\n' -X POST ${g}/api/orders ${auth} -H 'Content-Type: application/json' -d '{"item":"book","qty":3}'

# 4. Errors are JSON: no token -> 401, a method the route does not accept -> 405
curl -si -w '\\n' ${g}/api/users
curl -si -w '\\n' -X DELETE ${g}/api/orders/1 ${auth}

# 5. Rate limit (${u.perClient}/s per client, burst ${u.perClientBurst}): RateLimit-Remaining counts down, then 429 with Retry-After
for i in $(seq 1 15); do curl -s -o /dev/null -D - ${g}/public/ | grep -iE '^(HTTP/|ratelimit-remaining|retry-after)'; done

# 6. CORS preflight from the allowed origin
curl -si -X OPTIONS ${g}/api/users -H 'Origin: http://localhost:5173' -H 'Access-Control-Request-Method: GET'

# 7. Liveness, readiness, metrics (admin port), and the auth service's signing key (for auth mode jwt)
curl -s -w '\\n' ${g}/health
curl -s -w '\\n' ${g}/ready
curl -s ${u.admin}/metrics | grep -E '^gatehouse_(requests_total|upstream_up|breaker_state)'
curl -s -w '\\n' ${u.jwks}

# 8. gRPC through the gateway (h2c on the same port; @grpc/grpc-js client of the repo): once
#    without a token, once with it (the reply shows the user id the gateway sent as metadata);
#    run from the repository directory
GATEWAY=${new URL(g).host} npm run -s demo:grpc -- alice
GATEWAY=${new URL(g).host} npm run -s demo:grpc -- alice "$TOKEN"
${
  u.https
    ? `
# 9. The same gateway over HTTPS (HTTP/2 and HTTP/1.1 by ALPN), trusting the demo's own certificate;
#    upstreams see X-Forwarded-Proto: https
curl -s -w '\\n' --cacert ${u.https.cacert} --http2 ${u.https.url}/api/users/1 ${auth}
curl -s -w '\\n%{http_version}\\n' --cacert ${u.https.cacert} --http1.1 ${u.https.url}/public/
`
    : ''
}`;
}
