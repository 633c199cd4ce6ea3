// The keepalive settings and tolerances the namespace suites judge kernel timings by.
import { keepAliveBound } from '../../src/testing';

/** Short keepalive: a silent peer is dropped 1 s + 2 × 1 s after it was last heard. */
export const KEEPALIVE = { idle: 1000, interval: 1000, count: 2 } as const;
/** How long a silent peer goes unnoticed with KEEPALIVE, settings applied before the silence began. */
export const KEEPALIVE_BOUND = keepAliveBound(0, 0, KEEPALIVE); // 3000 ms
/**
 * How much later than its bound a death may be reported: kernel timers fire late by up to a
 * timer-wheel slot (tens of ms per timer at HZ 250), plus this process's event-loop delay with
 * a dozen hosts running on two cores. Measured 50–150 ms on an idle machine; a run beside other
 * heavy work once took 300+, so 500 leaves room without hiding a missed bound (the next probe
 * interval is 1000 ms away).
 */
export const TOLERANCE = 500;
/** TCP_INFO counts in jiffies (4 ms at HZ 250): "sooner than the bound" allows this much rounding. */
export const GRAIN = 10;
