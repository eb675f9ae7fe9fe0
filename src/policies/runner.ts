// Walks a route's compiled chain. Like fastify's hook runner it stays synchronous
// until a policy returns a promise (`typeof result.then === 'function'`): a chain of
// synchronous policies (CORS, a memory rate limit, a cached API key) costs no promise
// per request, and only the rest of the chain after an asynchronous policy runs in a
// continuation.
//
// Containment: whatever a policy does wrong ends as a typed answer for this request
// alone. A GatewayError passes through (it is the policy's answer); any other throw or
// rejection, a reply that is not a LocalReply, or a forbidden header becomes 500
// INTERNAL_ERROR, logged once per interval per policy; a promise that outlives the
// step's deadline becomes 503 POLICY_TIMEOUT. Every local answer is counted under the
// policy that gave it (gatehouse_policy_rejections_total).
import { GatewayError, isGatewayError } from '../errors.ts';
import { checkResponseHeader } from './header-guard.ts';
import type { BuiltinPolicy, ChainRequest, LocalReply, PolicyResult } from './policy.ts';

export interface ChainStep {
  /** The policy's name in routes[].policies, logs and metrics: cors, auth, a plugin's name... */
  readonly name: string;
  readonly run: BuiltinPolicy;
  /**
   * Longest wait for a promise the step returns; undefined for built-ins, which bound
   * their own waits (auth timeout and retries, Redis timeout).
   */
  readonly timeoutMs: number | undefined;
  /** A plugin's reply and headers are checked; the built-ins' are trusted. */
  readonly checkReply: boolean;
}

export interface ChainObserver {
  /** A step answered locally (an error or a reply of status >= 400). */
  rejected(policy: string, code: string): void;
  /** A step failed unexpectedly (a bug in it): logged, throttled per policy. */
  failed(policy: string, error: unknown, request: ChainRequest): void;
}

export interface PolicyChain {
  readonly steps: readonly ChainStep[];
  readonly observer: ChainObserver;
}

export type ChainOutcome = LocalReply | undefined;

/** Runs the chain: a LocalReply ends the request there, a thrown GatewayError answers it. */
export function runChain(chain: PolicyChain, request: ChainRequest): ChainOutcome | Promise<ChainOutcome> {
  return walk(chain, request, 0);
}

function walk(chain: PolicyChain, request: ChainRequest, from: number): ChainOutcome | Promise<ChainOutcome> {
  const steps = chain.steps;
  for (let i = from; i < steps.length; i++) {
    const step = steps[i];
    let result: PolicyResult | Promise<PolicyResult>;
    try {
      result = step.run(request);
    } catch (error) {
      throw settle(chain, step, request, error);
    }
    if (result === undefined || result === null) continue;
    if (typeof (result as Promise<PolicyResult>).then === 'function') {
      return resume(chain, request, i, result as Promise<PolicyResult>);
    }
    return replied(chain, step, request, result as LocalReply);
  }
  return undefined;
}

async function resume(
  chain: PolicyChain,
  request: ChainRequest,
  at: number,
  pending: Promise<PolicyResult>,
): Promise<ChainOutcome> {
  const step = chain.steps[at];
  let result: PolicyResult;
  try {
    result = await (step.timeoutMs === undefined ? pending : withDeadline(pending, step.timeoutMs));
  } catch (error) {
    throw settle(chain, step, request, error);
  }
  if (result !== undefined && result !== null) return replied(chain, step, request, result);
  return walk(chain, request, at + 1);
}

function withDeadline(pending: Promise<PolicyResult>, timeoutMs: number): Promise<PolicyResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new GatewayError('POLICY_TIMEOUT')), timeoutMs);
  });
  // A policy that settles after its deadline must not become an unhandled rejection.
  pending.catch(() => {});
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}

function settle(chain: PolicyChain, step: ChainStep, request: ChainRequest, error: unknown): GatewayError {
  if (isGatewayError(error)) {
    chain.observer.rejected(step.name, error.code);
    return error;
  }
  chain.observer.failed(step.name, error, request);
  chain.observer.rejected(step.name, 'INTERNAL_ERROR');
  return new GatewayError('INTERNAL_ERROR', { cause: error });
}

function replied(chain: PolicyChain, step: ChainStep, request: ChainRequest, result: unknown): LocalReply {
  if (step.checkReply) {
    const problem = replyProblem(result);
    if (problem !== undefined) throw settle(chain, step, request, new TypeError(problem));
  }
  const reply = result as LocalReply;
  if (reply.status >= 400) chain.observer.rejected(step.name, String(reply.status));
  return reply;
}

/** Why a plugin's return value is not a LocalReply, or undefined when it is one. */
function replyProblem(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return 'a policy returned something that is not a reply';
  const { status, headers, body } = result as Record<string, unknown>;
  if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599) {
    return 'a policy reply needs a status from 200 to 599';
  }
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return 'a policy reply body must be a string or bytes';
  }
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null) return 'a policy reply headers must be an object';
    try {
      for (const [name, value] of Object.entries(headers)) checkResponseHeader(name, value as string);
    } catch (error) {
      return (error as Error).message;
    }
  }
  return undefined;
}
