// JSON for `inspect --json`, written in pieces. At 15,000 connections the inventory is 8.5 MB of
// JSON; made in one piece, that is an 8.5 MB string and then an 8.5 MB copy of it in bytes for
// the write, each in fresh pages, and a fresh page costs some 13 µs on a virtual machine such as
// this project's (4,000 pages a copy: more than the stringify itself). Pieces of a hundred
// entries (some 56 KB: under V8's large-object size, so each lives and dies in pages the young
// generation already has) make the same bytes with no such cost.
import { once } from 'node:events';

const PIECE = 100;

/**
 * Writes `JSON.stringify(value, null, indent)` and a newline. Without an indent, the arrays among
 * `value`'s own properties are written a piece at a time: byte for byte the same output. Each
 * piece waits for the one before to be taken when `out` says it is full: on Linux a pipe to a
 * slower reader (a script reading the output) does not block a write, Node queues it, so without
 * waiting every piece would be copied and kept until the reader caught up.
 */
export async function writeJson(out: NodeJS.WritableStream, value: Record<string, unknown>, indent?: number): Promise<void> {
  const put = async (text: string) => {
    if (out.write(text) === false) await once(out, 'drain');
  };
  if (indent !== undefined) return put(`${JSON.stringify(value, null, indent)}\n`);
  let sep = '{';
  for (const [key, v] of Object.entries(value)) {
    if (!Array.isArray(v)) {
      const text = JSON.stringify(v);
      if (text === undefined) continue; // as JSON.stringify leaves out undefined and functions
      await put(`${sep}${JSON.stringify(key)}:${text}`);
    } else {
      await put(`${sep}${JSON.stringify(key)}:[`);
      for (let i = 0; i < v.length; i += PIECE) {
        const piece = JSON.stringify(v.slice(i, i + PIECE));
        await put(`${i > 0 ? ',' : ''}${piece.slice(1, -1)}`);
      }
      await put(']');
    }
    sep = ',';
  }
  await put(sep === '{' ? '{}\n' : '}\n');
}
