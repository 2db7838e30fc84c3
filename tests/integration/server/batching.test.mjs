// Continuous batching through the HTTP API: 32 simultaneous streams give exactly their
// solo results, a client that disconnects frees its cache blocks, a cache far too small
// for the load forces preemption without failing or changing any request, and a soak of
// mixed valid and invalid requests leaves the server serving with no block leaked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DSINFER, demoModel, startServer } from './lib/server.mjs';

const model = 'demo-model';

// Distinct short prompts, so the streams prefill and route differently.
const prompts = Array.from({ length: 32 }, (_, i) => `Request ${i}: count ${'to '.repeat(i % 7)}${i * 37}.`);

async function metric(server, name) {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  assert.ok(line, `metric ${name} missing from:\n${text}`);
  return Number(line.split(' ').pop());
}

// Polls until `name` reaches `value` (blocks are freed at the engine's next step).
async function waitForMetric(server, name, value, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await metric(server, name);
    if (last === value) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${name} stayed at ${last}, expected ${value}`);
}

async function streamed(client, content, maxTokens) {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content }], max_tokens: maxTokens, temperature: 0, stream: true,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream)
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
  return { text, finish };
}

test('32 simultaneous streams equal their solo runs', async () => {
  const server = await startServer({ args: ['--ctx-size', '256', '--max-batch', '32', '--http-threads', '40'] });
  try {
    const client = server.client();
    const solo = [];
    for (const p of prompts) solo.push(await streamed(client, p, 12));
    const stepsBefore = await metric(server, 'dsinfer_engine_steps_total');
    const together = await Promise.all(prompts.map((p) => streamed(client, p, 12)));
    for (let i = 0; i < prompts.length; ++i) assert.deepEqual(together[i], solo[i], `stream ${i}`);
    // 32 x 12 tokens in far fewer steps: the streams really shared steps.
    const steps = (await metric(server, 'dsinfer_engine_steps_total')) - stepsBefore;
    assert.ok(steps < (32 * 12) / 4, `${steps} engine steps for 384 tokens`);
    await waitForMetric(server, 'dsinfer_kv_blocks_used', 0);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

test('a client that disconnects mid-stream frees its blocks', async () => {
  const server = await startServer({ args: ['--ctx-size', '512', '--max-batch', '4'] });
  try {
    const controller = new AbortController();
    const stream = await server.client().chat.completions.create(
      { model, messages: [{ role: 'user', content: 'Talk for a long time.' }], max_tokens: 480, temperature: 0, stream: true },
      { signal: controller.signal });
    // Abort after three chunks and stop reading: chunks already received before the abort
    // took effect may still be queued in the client (one was, once), so the loop leaves
    // rather than waiting for the stream to end.
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks === 3) {
          controller.abort();
          break;
        }
      }
    } catch (e) {
      assert.equal(e.name, 'APIUserAbortError');
    }
    assert.equal(chunks, 3);
    await waitForMetric(server, 'dsinfer_kv_blocks_used', 0);
    await waitForMetric(server, 'dsinfer_requests_running', 0);
    // Still serving.
    const after = await server.client().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    assert.equal(after.choices[0].finish_reason, 'length');
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

test('cache exhaustion preempts and recomputes without changing any result', async () => {
  const inspect = execFileSync(DSINFER, ['inspect', '--model', demoModel()], { encoding: 'utf8' });
  const perToken = Number(inspect.match(/\(([\d,]+) at f32/)[1].replace(/,/g, ''));
  // Ten 16-position blocks: one 128-position context and a bit; six requests need ~36.
  const args = ['--ctx-size', '128', '--max-batch', '6', '--kv-type', 'f32', '--kv-memory', String(10 * 16 * perToken)];
  const server = await startServer({ args });
  try {
    const client = server.client();
    const chosen = prompts.slice(0, 6);
    const solo = [];
    for (const p of chosen) solo.push(await streamed(client, p, 50));
    const before = await metric(server, 'dsinfer_preemptions_total');
    const together = await Promise.all(chosen.map((p) => streamed(client, p, 50)));
    for (let i = 0; i < chosen.length; ++i) assert.deepEqual(together[i], solo[i], `request ${i}`);
    assert.ok((await metric(server, 'dsinfer_preemptions_total')) > before, 'the load should have forced preemption');
    await waitForMetric(server, 'dsinfer_kv_blocks_used', 0);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

test('soak: mixed valid and invalid requests, no crash and no leaked block', async () => {
  const seconds = Number(process.env.DSINFER_SOAK_SECONDS ?? 60);
  const server = await startServer({ args: ['--ctx-size', '192', '--max-batch', '8', '--max-queue', '16', '--http-threads', '16'] });
  const url = `http://127.0.0.1:${server.port}/v1/chat/completions`;
  const post = (body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const kinds = [
    async () => { // valid, streamed, sometimes abandoned early
      const controller = new AbortController();
      const res = await fetch(url, {
        method: 'POST', signal: controller.signal, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'soak' }], max_tokens: 20, stream: true }),
      });
      if (Math.random() < 0.3) { controller.abort(); return 'aborted'; }
      await res.text();
      return res.status;
    },
    async () => (await post(JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 5, temperature: 0.8, seed: 3 }))).status,
    async () => (await post('{"model": "demo-model", "messages": [')).status,                  // malformed JSON
    async () => (await post(JSON.stringify({ model, messages: [] }))).status,                    // empty messages
    async () => (await post(JSON.stringify({ model, messages: 'no', max_tokens: 'many' }))).status, // wrong types
    async () => (await post(JSON.stringify({ model, messages: [{ role: 'user', content: 'y '.repeat(400) }] }))).status, // too long
  ];
  const counts = {};
  const deadline = Date.now() + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: 6 }, async () => {
      while (Date.now() < deadline) {
        const kind = kinds[Math.floor(Math.random() * kinds.length)];
        const status = await kind().catch((e) => `error ${e.name}`);
        counts[status] = (counts[status] ?? 0) + 1;
      }
    }));
    for (const status of Object.keys(counts))
      assert.ok(['200', '400', '429', 'aborted'].includes(status), `unexpected outcome ${status}: ${JSON.stringify(counts)}`);
    assert.ok(counts['200'] > 0 && counts['400'] > 0, JSON.stringify(counts));
    await waitForMetric(server, 'dsinfer_kv_blocks_used', 0);
    await waitForMetric(server, 'dsinfer_requests_running', 0);
  } finally {
    assert.equal((await server.stop()).code, 0, `server log:\n${server.stderr().slice(-2000)}`);
  }
});
