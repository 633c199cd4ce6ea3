// The client side of a host's agent (testing-agent.ts, the program that runs inside the host):
// starting it, asking it for sockets and peer actions over the IPC channel, and noticing when it
// is gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentReply, AgentRequest } from './testing-agent';

/** How to start testing-agent: from dist/ with plain node, or from the sources through tsx. */
function agentCommand(): { args: string[]; cwd: string } {
  const js = join(__dirname, 'testing-agent.js');
  if (existsSync(js)) return { args: [process.execPath, js], cwd: __dirname };
  // This file is running from src/ (the package's own tests, under tsx): use the build of the
  // same source when it is current, since a dozen agents loading tsx at once take seconds.
  const ts = join(__dirname, 'testing-agent.ts');
  const root = join(__dirname, '..', '..');
  const built = join(root, 'dist', 'testing', 'testing-agent.js');
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(ts).mtimeMs) return { args: [process.execPath, built], cwd: __dirname };
  return { args: [process.execPath, '--import', 'tsx', ts], cwd: root };
}

/** How long an agent may take to answer before the request fails (a frozen agent never does). */
const AGENT_TIMEOUT = 15_000;

export type Request = AgentRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class Agent {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: { result: unknown; handle: unknown }) => void; reject: (e: Error) => void }>();
  #gone: Error | null = null;

  private constructor(readonly host: string) {
    const { args, cwd } = agentCommand();
    this.child = spawn('ip', ['netns', 'exec', host, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd });
    this.exited = new Promise((resolve) => {
      const gone = (why: string) => {
        if (this.#gone) return;
        this.#gone = new Error(`the agent in test host ${host} ${why}`);
        for (const p of this.#pending.values()) p.reject(this.#gone);
        this.#pending.clear();
        resolve();
      };
      this.child.once('exit', (code, sig) => gone(`exited (${sig ?? `code ${code}`})`));
      this.child.on('error', (err) => gone(`could not be run: ${err.message}`));
    });
    this.child.on('message', (reply: AgentReply, handle: unknown) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      this.#idle();
      if (reply.ok) p.resolve({ result: reply.result, handle });
      else p.reject(Object.assign(new Error(`${host}: ${reply.error.message}`), reply.error.code ? { code: reply.error.code } : {}));
    });
  }

  /** Starts an agent in the host and waits until it answers. */
  static async start(host: string): Promise<Agent> {
    const agent = new Agent(host);
    // Its first message (id 0) says it is ready.
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        agent.#pending.set(0, { resolve: () => resolve(), reject });
        timer = setTimeout(() => reject(new Error(`the agent in test host ${host} did not start within ${AGENT_TIMEOUT} ms`)), AGENT_TIMEOUT);
      });
    } catch (err) {
      agent.child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return agent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#gone === null;
  }

  request(req: Request): Promise<{ result: unknown; handle: unknown }> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#idle();
        reject(new Error(`the agent in test host ${this.host} did not answer ${req.op} within ${AGENT_TIMEOUT} ms (is the host frozen?)`));
      }, AGENT_TIMEOUT);
      this.#pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      // Holds the event loop only while an answer is awaited: a network left open never keeps
      // the process alive (the exit handler removes it).
      (this.child.channel as unknown as { ref(): void } | undefined)?.ref();
      this.child.ref();
      this.child.send({ ...req, id } as AgentRequest);
    });
  }

  #idle(): void {
    if (this.#pending.size > 0) return;
    (this.child.channel as unknown as { unref(): void } | undefined)?.unref();
    this.child.unref();
  }
}
