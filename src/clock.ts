/** Milliseconds since the epoch. Domain modules take one so tests can move time by hand. */
export type Clock = () => number;

export const systemClock: Clock = Date.now;

/**
 * Runs `task` once after `ms`; the returned function cancels it. Injected beside a
 * Clock where a module keeps a timer, so tests can fire it by moving the clock.
 */
export type Schedule = (task: () => void, ms: number) => () => void;

/** Real timers, unref'd: a pending one never keeps the process alive. */
export const systemSchedule: Schedule = (task, ms) => {
  const timer = setTimeout(task, ms);
  timer.unref();
  return () => clearTimeout(timer);
};
