/** Milliseconds since the epoch. Domain modules take one so tests can move time by hand. */
export type Clock = () => number;

export const systemClock: Clock = Date.now;
