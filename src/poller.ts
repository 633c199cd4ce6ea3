// A private epoll set watched by one libuv poll handle on the epoll fd: the kernel tells us
// which registrations are ready, in one batch, with no per-socket poll handle (libuv allows
// only one per fd, and Node already holds it). Registrations carry an id chosen here, never an
// fd number, so a closed fd that is reused can't be mistaken for the socket that had it.
import { check, events, native, type NativePoller } from './binding';

export class Poller {
  readonly #handle: NativePoller;
  readonly #out = new Float64Array(native.pollerBatch * 2);
  readonly #onEvent: (id: number, bits: number) => void;

  /** `caller`: the public call that needs the set, where a failure's stack starts. */
  constructor(onEvent: (id: number, bits: number) => void, caller: Function) {
    this.#onEvent = onEvent;
    const handle = native.pollerOpen(this.#out, (count) => this.#dispatch(count));
    if (typeof handle === 'number') check(handle, caller);
    this.#handle = handle as NativePoller;
  }

  /** Returns 0 or a native failure code (EEXIST, EBADF, ...), for the caller to judge. */
  add(fd: number, id: number, bits: number): number {
    return native.pollerCtl(this.#handle, events.EPOLL_CTL_ADD, fd, bits, id);
  }

  modify(fd: number, id: number, bits: number): number {
    return native.pollerCtl(this.#handle, events.EPOLL_CTL_MOD, fd, bits, id);
  }

  /** Only for an fd known to be open and still ours: epoll_ctl finds the entry by fd. */
  delete(fd: number): number {
    return native.pollerCtl(this.#handle, events.EPOLL_CTL_DEL, fd, 0, 0);
  }

  /** Whether pending registrations keep the event loop alive (off by default). */
  ref(on: boolean): void {
    native.pollerRef(this.#handle, on);
  }

  close(): void {
    native.pollerClose(this.#handle);
  }

  #dispatch(count: number): void {
    // Never throws into the native caller: one listener's exception must not cost the others
    // their events, and it surfaces as an 'uncaughtException', like one in any I/O callback.
    const out = this.#out;
    for (let i = 0; i < count; i++) {
      try {
        this.#onEvent(out[2 * i], out[2 * i + 1]);
      } catch (err) {
        setImmediate(() => { throw err; }); // each on its own: a throwing tick would drop the ticks queued after it
      }
    }
  }
}
