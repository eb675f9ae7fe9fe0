// Where the policy chains report what they decided: a counter per route, policy and
// code (gatehouse_policy_rejections_total), and one log line per interval per policy
// for failures that are bugs (a plugin throwing something that is not a gateway error),
// so a plugin failing on every request cannot flood the log.
import type { Logger } from 'pino';
import type { Schedule } from '../clock.ts';
import { ThrottledLog } from '../observability/throttled-log.ts';
import type { ChainRequest } from './policy.ts';

export interface PolicyEvents {
  rejected(route: string, policy: string, code: string): void;
  failed(policy: string, error: unknown, request: ChainRequest): void;
}

export const FAILURE_LOG_INTERVAL_MS = 10_000;

export function createPolicyEvents(
  logger: Logger,
  onRejected: (route: string, policy: string, code: string) => void = () => {},
  schedule?: Schedule,
): PolicyEvents {
  const failures = new ThrottledLog((fields, message) => logger.error(fields, message), {
    intervalMs: FAILURE_LOG_INTERVAL_MS,
    schedule,
  });
  return {
    rejected: onRejected,
    failed(policy, error, request) {
      failures.log(
        policy,
        { policy, route: request.route, request_id: request.requestId, err: error },
        'policy failed unexpectedly; answered 500',
      );
    },
  };
}
