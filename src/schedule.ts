// Deadlines for many sockets on one timer: entries wait in buckets of SLOT ms, and a single
// setTimeout is armed for the earliest bucket. When nothing is due, nothing runs.
const SLOT = 10;

export interface Scheduled {
  /** The bucket it waits in, or -1. */
  slot: number;
}

export class Schedule<T extends Scheduled> {
  readonly #buckets = new Map<number, Set<T>>();
  readonly #slots: number[] = []; // a min-heap of the bucket keys
  readonly #run: (entries: Set<T>) => void;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #firing = false;

  constructor(run: (due: Set<T>) => void) {
    this.#run = run;
  }

  /** Runs `entry` at `at` (ms, performance.now() clock) or up to SLOT ms after. */
  at(entry: T, at: number): void {
    // Never the bucket being run now: what a run reschedules waits for the next one.
    const slot = Math.max(Math.ceil(at / SLOT), Math.floor(performance.now() / SLOT) + 1);
    if (entry.slot === slot) return;
    this.cancel(entry);
    let bucket = this.#buckets.get(slot);
    if (bucket === undefined) {
      bucket = new Set();
      this.#buckets.set(slot, bucket);
      heapPush(this.#slots, slot);
    }
    bucket.add(entry);
    entry.slot = slot;
    if (slot < this.#armedFor && !this.#firing) this.#arm();
  }

  cancel(entry: T): void {
    if (entry.slot < 0) return;
    this.#buckets.get(entry.slot)?.delete(entry);
    entry.slot = -1;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    for (const bucket of this.#buckets.values()) for (const e of bucket) e.slot = -1;
    this.#buckets.clear();
    this.#slots.length = 0;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    // Empty buckets (every entry cancelled) are dropped as they come to the top.
    while (this.#slots.length > 0 && this.#buckets.get(this.#slots[0])!.size === 0) {
      this.#buckets.delete(heapPop(this.#slots));
    }
    if (this.#slots.length === 0) return;
    this.#armedFor = this.#slots[0];
    const delay = Math.max(0, this.#armedFor * SLOT - performance.now());
    this.#timer = setTimeout(() => this.#fire(), delay);
    this.#timer.unref(); // the sockets keep the process alive, not their deadlines
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Math.floor(performance.now() / SLOT);
    this.#firing = true;
    try {
      while (this.#slots.length > 0 && this.#slots[0] <= now) {
        const slot = heapPop(this.#slots);
        const due = this.#buckets.get(slot)!;
        this.#buckets.delete(slot);
        for (const e of due) e.slot = -1;
        if (due.size > 0) this.#run(due);
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }
}

function heapPush(heap: number[], x: number): void {
  let i = heap.push(x) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= x) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = x;
}

function heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
      if (heap[c] >= last) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
  }
  return top;
}
