// Where the policy chains report what they decided: a counter per route, policy and
// code (gatehouse_policy_rejections_total), and one log line per interval per policy
// for failures that are bugs (a plugin throwing something that is not a gateway error),
// so a plugin failing on every request cannot flood the log.
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.ts';
import { createThrottledWarn, type ThrottledWarn } from '../ratelimit/throttled-log.ts';
import type { ChainRequest } from './policy.ts';

export interface PolicyEvents {
  rejected(route: string, policy: string, code: string): void;
  failed(policy: string, error: unknown, request: ChainRequest): void;
}

export const FAILURE_LOG_INTERVAL_MS = 10_000;

export function createPolicyEvents(
  logger: Logger,
  onRejected: (route: string, policy: string, code: string) => void = () => {},
  clock: Clock = systemClock,
): PolicyEvents {
  const errors = { warn: (fields: object, message: string) => logger.error(fields, message) };
  const perPolicy = new Map<string, ThrottledWarn>();
  return {
    rejected: onRejected,
    failed(policy, error, request) {
      let log = perPolicy.get(policy);
      if (log === undefined) {
        log = createThrottledWarn(errors, FAILURE_LOG_INTERVAL_MS, clock);
        perPolicy.set(policy, log);
      }
      log(
        { policy, route: request.route, request_id: request.requestId, err: error },
        'policy failed unexpectedly; answered 500',
      );
    },
  };
}
