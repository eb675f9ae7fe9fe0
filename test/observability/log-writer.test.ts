// The batching log writer on a real file: every line arrives, in order, the lines of
// one turn in one write; flush() calls back once they are on disk; flushSync() writes
// at once for exit paths.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogWriter } from '../../src/observability/log-writer.ts';

async function withFile(run: (fd: number, read: () => string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-log-'));
  const file = join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    await run(fd, () => readFileSync(file, 'utf8'));
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

test('lines are written in order, batched per turn, and flush() waits for them', async () => {
  await withFile(async (fd, read) => {
    const writer = new LogWriter(fd);
    const lines = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"s":"ä€😀"}\n`);
    // 2,000 lines of 28 bytes: under a batch (BATCH_BYTES, 64 KB), so nothing goes out yet.
    for (const line of lines.slice(0, 2000)) writer.write(line);
    assert.equal(read(), '', 'nothing is written during the turn that logged');
    await new Promise((resolve) => setImmediate(resolve));
    // More lines, several batches' worth, while the first batch may still be in flight.
    for (const line of lines.slice(2000)) writer.write(line);
    await new Promise<void>((resolve, reject) =>
      writer.flush((error) => (error ? reject(error) : resolve())),
    );
    assert.equal(read(), lines.join(''));
  });
});

test('flush() with nothing queued calls back at once; flushSync() writes what is queued', async () => {
  await withFile(async (fd, read) => {
    const writer = new LogWriter(fd);
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    writer.write('{"a":1}\n');
    writer.write('{"b":2}\n');
    writer.flushSync();
    assert.equal(read(), '{"a":1}\n{"b":2}\n');
    // The scheduled write finds nothing left and writes nothing twice.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => writer.flush(() => resolve()));
    assert.equal(read(), '{"a":1}\n{"b":2}\n');
  });
});

test('a line larger than the buffer, and lines logged while a write is in flight, arrive whole and in order', async () => {
  await withFile(async (fd, read) => {
    const writer = new LogWriter(fd);
    const huge = `{"big":"${'é'.repeat(150_000)}"}\n`;
    const lines = ['{"first":1}\n', huge, ...Array.from({ length: 3000 }, (_, i) => `{"after":${i}}\n`)];
    for (const line of lines) writer.write(line);
    await new Promise<void>((resolve, reject) =>
      writer.flush((error) => (error ? reject(error) : resolve())),
    );
    assert.equal(read(), lines.join(''));
  });
});
