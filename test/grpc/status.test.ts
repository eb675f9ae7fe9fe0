import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeGrpcMessage,
  formatGrpcTimeout,
  grpcStatusFor,
  isGrpcContentType,
  parseGrpcTimeout,
} from '../../src/grpc/status.ts';
import { decodeHealthStatus, encodeHealthRequest } from '../../src/upstream/grpc-health-probe.ts';

describe('gRPC status mapping (DESIGN.md "gRPC")', () => {
  it('maps the gateway statuses', () => {
    const table: [number, number][] = [
      [401, 16],
      [403, 7],
      [429, 8],
      [413, 8],
      [502, 14],
      [503, 14],
      [504, 4],
      [404, 12],
      [405, 12],
      [400, 13],
      [500, 13],
    ];
    for (const [http, grpc] of table) assert.equal(grpcStatusFor(http), grpc, `HTTP ${http}`);
  });

  it('knows gRPC content types', () => {
    assert.ok(isGrpcContentType('application/grpc'));
    assert.ok(isGrpcContentType('application/grpc+proto'));
    assert.ok(!isGrpcContentType('application/grpc-web'));
    assert.ok(!isGrpcContentType('application/json'));
    assert.ok(!isGrpcContentType(undefined));
  });
});

describe('grpc-timeout', () => {
  it('reads every unit and refuses malformed values', () => {
    assert.equal(parseGrpcTimeout('2H'), 7_200_000);
    assert.equal(parseGrpcTimeout('3M'), 180_000);
    assert.equal(parseGrpcTimeout('5S'), 5000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('1500u'), 1.5);
    assert.equal(parseGrpcTimeout('1000000n'), 1);
    assert.equal(parseGrpcTimeout(undefined), undefined);
    for (const bad of ['', '10', 'm', '123456789S', '1.5S', '-1m', '10s'])
      assert.equal(parseGrpcTimeout(bad), null, bad);
  });

  it('writes what is left, never 0 and never over 8 digits', () => {
    assert.equal(formatGrpcTimeout(249.2), '250m');
    assert.equal(formatGrpcTimeout(0.1), '1m');
    assert.equal(formatGrpcTimeout(-5), '1m');
    assert.equal(formatGrpcTimeout(200_000_000), '200000S');
  });
});

describe('grpc-message', () => {
  it('percent-encodes what is not printable ASCII, and %', () => {
    assert.equal(encodeGrpcMessage('ok 100% sûr\n'), 'ok 100%25 s%C3%BBr%0A');
  });
});

describe('grpc.health.v1 messages', () => {
  it('encodes the request with and without a service name', () => {
    assert.deepEqual(encodeHealthRequest(''), Buffer.from([0, 0, 0, 0, 0]));
    assert.deepEqual(encodeHealthRequest('ab'), Buffer.from([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]));
  });

  it('decodes the status, skipping unknown fields', () => {
    assert.equal(decodeHealthStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
    assert.equal(decodeHealthStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 2])), 2);
    assert.equal(decodeHealthStatus(Buffer.from([0, 0, 0, 0, 0])), 0, 'an empty message is UNKNOWN');
    assert.equal(decodeHealthStatus(Buffer.from([0, 0, 0, 0, 5, 0x12, 1, 0x7a, 0x08, 1])), 1);
    assert.equal(decodeHealthStatus(Buffer.from([0, 0, 0, 0, 9, 0x08])), undefined, 'cut short');
    assert.equal(decodeHealthStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 1])), undefined, 'compressed');
  });
});
