// inspect --json writes large inventories in pieces (src/cli/json.ts): the bytes must be
// JSON.stringify's, whatever the array lengths around the piece size.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { writeJson } from '../../src/cli/json';

async function written(value: Record<string, unknown>, indent?: number): Promise<string> {
  const chunks: string[] = [];
  await writeJson({ write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WritableStream, value, indent);
  return chunks.join('');
}

describe('inspect --json output', () => {
  it('is byte for byte what JSON.stringify makes, for arrays of every length around the piece size', async () => {
    for (const n of [0, 1, 99, 100, 101, 250, 1234]) {
      const entries = Array.from({ length: n }, (_, i) => ({
        state: i % 3 ? 'ESTABLISHED' : 'CLOSE_WAIT', fd: i, rtt: i / 7, timer: { kind: 'keepalive', expiresIn: i * 1000 },
        keepAlive: i % 2 ? null : { enable: true, idle: 1000 }, reason: `quoted "${i}" \\ \u00e9`, gone: undefined,
      }));
      const value = { summary: { pid: 1, states: { ESTABLISHED: n } }, connections: entries, listeners: [], skipped: undefined };
      const many = await written(value);
      assert.equal(many, `${JSON.stringify(value)}\n`, `${n} entries`);
    }
    assert.equal(await written({}), '{}\n');
  });

  it('is indented whole when asked to be', async () => {
    const value = { summary: { pid: 1 }, connections: [{ fd: 3 }] };
    assert.equal(await written(value, 2), `${JSON.stringify(value, null, 2)}\n`);
  });

  it('waits for a slow reader: no more than one piece is queued beyond what the stream holds', async () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({ fd: i, reason: 'x'.repeat(100) }));
    const value = { summary: { pid: 1 }, connections: entries };
    const chunks: string[] = [];
    let queuedMost = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        setImmediate(done); // one chunk a turn of the loop, as a pipe to a busy reader drains
      },
    });
    const origWrite = slow.write.bind(slow);
    slow.write = ((text: string) => {
      queuedMost = Math.max(queuedMost, slow.writableLength + text.length);
      return origWrite(text);
    }) as typeof slow.write;
    await writeJson(slow, value);
    await new Promise<void>((resolve) => slow.end(resolve));
    assert.equal(chunks.join(''), `${JSON.stringify(value)}\n`);
    const piece = JSON.stringify(entries.slice(0, 100)).length;
    assert.ok(queuedMost <= 1024 + piece + 1, `${queuedMost} bytes queued at most, a piece is ${piece}`);
  });
});

