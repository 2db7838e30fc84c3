// Helpers shared by the server tests: the demo model and other presets, starting
// `dsinfer serve` on a free port (waiting for its "listening on" line), and stopping it
// with a signal.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';

export const DSINFER = process.env.DSINFER ?? path.resolve('../../../build/bin/dsinfer');
const WORK_DIR = process.env.DSINFER_TEST_DIR ?? path.resolve('../../../build/server-tests');

// The `demo` preset (real V3 tokenizer and chat template, random weights), written once
// per work directory and shared by every test file.
export function demoModel() {
  return presetModel('demo', 'demo-model');
}

// A make-test-model preset written once per work directory into WORK_DIR/NAME (seed 1).
export function presetModel(preset, name) {
  const dir = path.join(WORK_DIR, name);
  if (existsSync(path.join(dir, 'config.json'))) return dir;
  mkdirSync(WORK_DIR, { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  execFileSync(DSINFER, ['make-test-model', '--preset', preset, '--seed', '1', '--out', partial], { stdio: 'inherit' });
  // Another test process may have finished first; either copy is the same model.
  if (!existsSync(path.join(dir, 'config.json'))) renameSync(partial, dir);
  else rmSync(partial, { recursive: true, force: true });
  return dir;
}

// Starts `dsinfer serve --model MODEL --port 0 ARGS...` and resolves once it listens.
// Returns { baseURL, port, proc, stderr(), client(options), stop(signal) }.
export async function startServer({ model = demoModel(), args = [], timeoutMs = 120_000 } = {}) {
  const proc = spawn(DSINFER, ['serve', '--model', model, '--port', '0', '-t', '2', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/listening on http:\/\/[^\s:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`dsinfer serve exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  const baseURL = `http://127.0.0.1:${port}/v1`;
  return {
    baseURL,
    port,
    proc,
    stderr: () => log,
    // An OpenAI client for this server; no retries, so each error is seen as sent.
    client: (options = {}) => new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0, timeout: 120_000, ...options }),
    // Sends `signal` and resolves with the exit status.
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
