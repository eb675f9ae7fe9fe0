// The one fake clock of the tests: time moves only when a test says so, and timers
// scheduled on it (src/clock.ts Schedule) fire as the clock passes their time, in
// order. Inject `clock` where a module takes a Clock and `schedule` where it takes a
// Schedule.
import type { Clock, Schedule } from '../../src/clock.ts';

export interface FakeClock {
  readonly clock: Clock;
  readonly schedule: Schedule;
  /** The current fake time. */
  readonly now: number;
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void;
  /** Timers not yet fired or cancelled. */
  readonly pendingTimers: number;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly task: () => void;
}

/** Starts at a fixed, realistic epoch time (2024-01-01T00:00:00Z) unless told otherwise. */
export function fakeClock(start = Date.UTC(2024, 0, 1)): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Set<Timer>();

  const schedule: Schedule = (task, ms) => {
    const timer = { at: now + Math.max(0, ms), seq: seq++, task };
    timers.add(timer);
    return () => {
      timers.delete(timer);
    };
  };

  function nextDue(until: number): Timer | undefined {
    let next: Timer | undefined;
    for (const timer of timers) {
      if (timer.at > until) continue;
      if (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        next = timer;
    }
    return next;
  }

  return {
    clock: () => now,
    schedule,
    get now() {
      return now;
    },
    get pendingTimers() {
      return timers.size;
    },
    advance(ms) {
      const until = now + ms;
      // Bounded: a timer that keeps rescheduling itself at 0 ms cannot spin forever.
      for (let fired = 0; fired < 100_000; fired++) {
        const timer = nextDue(until);
        if (timer === undefined) break;
        timers.delete(timer);
        now = timer.at;
        timer.task();
      }
      now = until;
    },
  };
}
