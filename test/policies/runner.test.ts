// The policy runner: synchronous until a policy returns a promise, and every failure of
// a policy contained as a typed answer for that request alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import type { PolicyEvents } from '../../src/policies/events.ts';
import type { BuiltinPolicy, ChainRequest } from '../../src/policies/policy.ts';
import { type ChainStep, type PolicyChain, runChain } from '../../src/policies/runner.ts';
import { testRequest } from '../helpers/policy-request.ts';

interface Recorded {
  rejected: string[];
  failed: string[];
}

function chain(steps: Partial<ChainStep>[], recorded: Recorded = { rejected: [], failed: [] }): PolicyChain {
  const events: Pick<PolicyEvents, 'failed'> = {
    failed: (policy: string, _error: unknown, _request: ChainRequest) => recorded.failed.push(policy),
  };
  return {
    steps: steps.map((step, i) => ({
      name: step.name ?? `p${i}`,
      run: step.run ?? (() => undefined),
      timeoutMs: step.timeoutMs,
      checkReply: step.checkReply ?? true,
    })),
    observer: {
      rejected: (policy, code) => recorded.rejected.push(`${policy}:${code}`),
      failed: events.failed,
    },
  };
}

async function rejection(outcome: unknown): Promise<GatewayError> {
  try {
    await outcome;
  } catch (error) {
    assert.ok(error instanceof GatewayError, `a GatewayError, got ${String(error)}`);
    return error;
  }
  assert.fail('the chain should have failed');
}

test('a chain of synchronous policies returns a value, never a promise', () => {
  const order: string[] = [];
  const step =
    (name: string): BuiltinPolicy =>
    () => {
      order.push(name);
    };
  const outcome = runChain(
    chain([{ run: step('a') }, { run: step('b') }, { run: step('c') }]),
    testRequest(),
  );
  assert.equal(outcome, undefined);
  assert.ok(!((outcome as unknown) instanceof Promise), 'no promise on the synchronous path');
  assert.deepEqual(order, ['a', 'b', 'c']);
});

test('a synchronous reply ends the chain synchronously', () => {
  let after = false;
  const outcome = runChain(
    chain([
      { run: () => ({ status: 204 }) },
      {
        run: () => {
          after = true;
        },
      },
    ]),
    testRequest(),
  );
  assert.deepEqual(outcome, { status: 204 });
  assert.equal(after, false);
});

test('only a policy that returns a promise makes the rest asynchronous, in order', async () => {
  const order: string[] = [];
  const outcome = runChain(
    chain([
      { run: () => void order.push('sync') },
      { run: async () => void order.push('async') },
      { run: () => void order.push('after') },
      { run: () => ({ status: 403, body: 'no' }) },
    ]),
    testRequest(),
  );
  assert.ok(outcome instanceof Promise);
  assert.deepEqual(order, ['sync', 'async'], 'the rest waits for the promise');
  assert.deepEqual(await outcome, { status: 403, body: 'no' });
  assert.deepEqual(order, ['sync', 'async', 'after']);
});

test('a GatewayError passes through and is counted under its policy', async () => {
  const recorded = { rejected: [], failed: [] };
  const sync = chain(
    [
      {
        name: 'gate',
        run: () => {
          throw new GatewayError('FORBIDDEN');
        },
      },
    ],
    recorded,
  );
  assert.throws(
    () => runChain(sync, testRequest()),
    (error: unknown) => (error as GatewayError).code === 'FORBIDDEN',
  );
  const later = chain(
    [{ name: 'late', run: () => Promise.reject(new GatewayError('RATE_LIMITED')) }],
    recorded,
  );
  assert.equal((await rejection(runChain(later, testRequest()))).code, 'RATE_LIMITED');
  assert.deepEqual(recorded, { rejected: ['gate:FORBIDDEN', 'late:RATE_LIMITED'], failed: [] });
});

test('an unexpected throw or rejection is a 500 INTERNAL_ERROR, reported as a failure', async () => {
  const recorded = { rejected: [], failed: [] };
  const boom = chain(
    [
      {
        name: 'buggy',
        run: () => {
          throw new TypeError('x is undefined');
        },
      },
    ],
    recorded,
  );
  assert.throws(
    () => runChain(boom, testRequest()),
    (error: unknown) => error instanceof GatewayError && error.code === 'INTERNAL_ERROR',
  );
  const rejecting = chain([{ name: 'async-buggy', run: () => Promise.reject(new Error('nope')) }], recorded);
  const error = await rejection(runChain(rejecting, testRequest()));
  assert.equal(error.code, 'INTERNAL_ERROR');
  assert.equal(error.status, 500);
  assert.deepEqual(recorded.failed, ['buggy', 'async-buggy']);
  assert.deepEqual(recorded.rejected, ['buggy:INTERNAL_ERROR', 'async-buggy:INTERNAL_ERROR']);
});

test('a plugin reply that is not a LocalReply is a 500; a built-in reply is trusted', () => {
  for (const bad of [
    { status: 99 },
    { status: '200' },
    'yes',
    { status: 200, body: 42 },
    { status: 200, headers: { 'content-length': '1' } },
  ]) {
    assert.throws(
      () => runChain(chain([{ run: () => bad as never }]), testRequest()),
      (error: unknown) => error instanceof GatewayError && error.code === 'INTERNAL_ERROR',
      JSON.stringify(bad),
    );
  }
  assert.deepEqual(runChain(chain([{ run: () => ({ status: 204 }), checkReply: false }]), testRequest()), {
    status: 204,
  });
});

test('a promise past the step deadline is 503 POLICY_TIMEOUT; its late rejection is swallowed', async () => {
  const recorded = { rejected: [], failed: [] };
  let rejectLate: (error: Error) => void = () => {};
  const hanging = chain(
    [
      {
        name: 'slow',
        timeoutMs: 20,
        run: () =>
          new Promise((_resolve, reject) => {
            rejectLate = reject;
          }),
      },
    ],
    recorded,
  );
  const error = await rejection(runChain(hanging, testRequest()));
  assert.equal(error.code, 'POLICY_TIMEOUT');
  assert.equal(error.status, 503);
  rejectLate(new Error('too late'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(recorded, { rejected: ['slow:POLICY_TIMEOUT'], failed: [] });
});

test('local replies of status 400 and above are counted as rejections', () => {
  const recorded = { rejected: [], failed: [] };
  runChain(chain([{ name: 'teapot', run: () => ({ status: 418 }) }], recorded), testRequest());
  runChain(chain([{ name: 'cors', run: () => ({ status: 204 }) }], recorded), testRequest());
  assert.deepEqual(recorded.rejected, ['teapot:418']);
});
