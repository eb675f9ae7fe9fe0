// What a policy may write into a header: never a control character, never a header
// the gateway owns (framing, hop-by-hop, Host, forwarding facts, identity).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkResponseHeader,
  checkUpstreamHeader,
  HeaderPolicyError,
} from '../../src/policies/header-guard.ts';
import { testRequest } from '../helpers/policy-request.ts';

const identity = new Set(['x-user-id', 'x-user-roles', 'x-consumer']);

test('ordinary headers pass, lower-cased', () => {
  assert.equal(checkUpstreamHeader('X-Tenant', 'acme corp', identity), 'x-tenant');
  assert.equal(checkUpstreamHeader('x-tenant', '', identity), 'x-tenant');
  assert.equal(checkResponseHeader('X-Served-By', 'gatehouse\tgw-1'), 'x-served-by');
});

test('values with CR, LF, NUL or other control characters are refused', () => {
  for (const value of [
    'a\r\nx-injected: 1',
    'a\nb',
    'a\rb',
    'a\u0000b',
    'a\u007fb',
    'a\u0001b',
    'caf\u0100',
  ]) {
    assert.throws(
      () => checkUpstreamHeader('x-tenant', value, identity),
      HeaderPolicyError,
      JSON.stringify(value),
    );
    assert.throws(() => checkResponseHeader('x-tenant', value), HeaderPolicyError, JSON.stringify(value));
  }
});

test('bad names are refused', () => {
  for (const name of ['', 'x tenant', 'x:tenant', 'x\r\ny', 'é']) {
    assert.throws(() => checkUpstreamHeader(name, 'v', identity), HeaderPolicyError, JSON.stringify(name));
  }
});

test('hop-by-hop, framing, Host, forwarding facts and identity headers are not a policy’s to set upstream', () => {
  for (const name of [
    'Host',
    'Content-Length',
    'Transfer-Encoding',
    'Connection',
    'Keep-Alive',
    'Upgrade',
    'TE',
    'Trailer',
    'Proxy-Authorization',
    'X-Forwarded-For',
    'X-Forwarded-Proto',
    'X-Forwarded-Host',
    'Forwarded',
    'X-Real-IP',
    'X-Request-ID',
    'traceparent',
    'X-User-ID',
    'x_user_roles',
    'X-User-Anything',
    'X-Consumer',
  ]) {
    assert.throws(() => checkUpstreamHeader(name, 'v', identity), HeaderPolicyError, name);
  }
});

test('framing and the request id are not a policy’s to set on the answer', () => {
  for (const name of ['Content-Length', 'Transfer-Encoding', 'Connection', 'X-Request-ID']) {
    assert.throws(() => checkResponseHeader(name, '1'), HeaderPolicyError, name);
  }
});

test('the request view applies the same checks', () => {
  const request = testRequest();
  request.setUpstreamHeader('X-Tenant', 'acme');
  request.setResponseHeader('X-Served-By', 'gw');
  assert.deepEqual(request.upstreamHeaders, { 'x-tenant': 'acme' });
  assert.deepEqual(request.responseHeaders, { 'x-served-by': 'gw' });
  assert.throws(() => request.setUpstreamHeader('X-User-ID', 'admin'), HeaderPolicyError);
  assert.throws(() => request.setResponseHeader('x-ok', 'a\r\nb'), HeaderPolicyError);
});
