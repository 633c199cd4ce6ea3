// Runs `tcp-liveness inspect` as a user would, and the shape of its --json output.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'tcp-liveness.js');

export interface Entry {
  state: string; verdict: string; reason: string; localPort: number; remotePort: number; fd: number | null;
  sendQueue: number; timer: { kind: string; expiresIn: number | null; count: number };
  lastAckReceived: number | null; lastDataReceived: number | null;
  keepAlive: { enable: boolean; idle: number; interval: number; count: number; userTimeout: number } | null;
  /** Only in the fixture's own report: whether it names one of the fixture's sockets. */
  socket?: boolean;
}

export interface Inventory {
  summary: {
    pid: number; states: Record<string, number>; verdicts: Record<string, number>; timeWait: number;
    listening: number; fds: number; fdLimit: number | null;
  };
  connections: Entry[];
  listeners: Array<{ localPort: number; server?: boolean }>;
}

/** Runs the command (as `user` when given); resolves with its exit code and output, whatever the code. */
export function inspect(args: readonly string[], user?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = user
    ? ['runuser', ['-u', user, '--', process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  return new Promise((resolve) => {
    // The default 1 MiB of output is some 1,800 connections of JSON; the tests' largest is 1,200.
    execFile(cmd, argv, { timeout: 15_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
