// `dsinfer serve` on a DeepSeek-V4 folder (the v4-demo preset: v4-tiny's shape with the
// real tokenizer, random weights) through the official OpenAI client. The oracles are the
// CLI's single-sequence paths: a greedy text completion must be what `dsinfer run -p`
// prints, a greedy chat reply what `dsinfer chat` prints (tests/integration/check_chat_v4.py
// ties that to the V4 encoder), streamed answers the whole ones, and requests beyond the
// engine's state slots wait and still give their solo answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DSINFER, presetModel, startServer } from './lib/server.mjs';

const modelDir = presetModel('v4-demo', 'v4-demo-model');
const model = 'v4-demo-model';
const slots = 2;

let server;
let client;

// The CLI's output, run with the server's thread count so every kernel splits work alike.
function cli(args, input = '') {
  return execFileSync(DSINFER, [...args, '--model', modelDir, '-t', '2', '--temperature', '0'], {
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
}

// Both print the reply and then one newline.
const runText = (prompt, n) => cli(['run', '-p', prompt, '-n', String(n)]).replace(/\n$/, '');
const chatReply = (line, n) => cli(['chat', '-n', String(n)], `${line}\n`).replace(/\n$/, '');

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} missing from:\n${text}`);
  return Number(line.split(' ').pop());
}

before(async () => {
  server = await startServer({ model: modelDir, args: ['--ctx-size', '256', '--max-batch', String(slots)] });
  client = server.client();
});

after(async () => {
  const { code } = await server.stop('SIGTERM');
  assert.equal(code, 0, 'SIGTERM ends the server with status 0');
});

test('a greedy text completion is what `dsinfer run` prints, whole and streamed', async () => {
  const prompt = 'The capital of France is';
  const params = { model, prompt, max_tokens: 12, temperature: 0 };
  const whole = await client.completions.create(params);
  assert.equal(whole.choices[0].text, runText(prompt, 12));
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));
  let text = '';
  for await (const chunk of await client.completions.create({ ...params, stream: true }))
    text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
});

test('a greedy chat reply is what `dsinfer chat` prints, whole and streamed', async () => {
  const line = 'Hello there';
  const params = { model, messages: [{ role: 'user', content: line }], max_tokens: 10, temperature: 0 };
  const whole = await client.chat.completions.create(params);
  const message = whole.choices[0].message;
  // Non-thinking mode: the whole reply is content.
  assert.equal(message.content, chatReply(line, 10));
  assert.ok(whole.usage.prompt_tokens > 3);
  assert.ok(whole.usage.completion_tokens >= 1 && whole.usage.completion_tokens <= 10);

  const stream = await client.chat.completions.create({
    ...params, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) text += choice.delta.content ?? '';
  }
  assert.equal(text, message.content);
  assert.deepEqual(usage, whole.usage);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 0, 'V4 has no prefix cache');
});

test('more requests than state slots wait their turn and give their solo replies', async () => {
  const prompts = Array.from({ length: 2 * slots + 1 }, (_, i) => `Request ${i}: count to ${i * 37}.`);
  const ask = (p) => client.completions.create({ model, prompt: p, max_tokens: 8, temperature: 0 });
  const solo = [];
  for (const p of prompts) solo.push((await ask(p)).choices[0].text);
  const together = await Promise.all(prompts.map(ask));
  for (let i = 0; i < prompts.length; ++i) assert.equal(together[i].choices[0].text, solo[i], `request ${i}`);
  assert.equal(await metric('dsinfer_kv_blocks_total'), slots);
  const deadline = Date.now() + 20_000;
  while ((await metric('dsinfer_kv_blocks_used')) !== 0) {
    assert.ok(Date.now() < deadline, 'the slots were not freed');
    await new Promise((r) => setTimeout(r, 50));
  }
});

test('options a V4 cache cannot honour stop serve with a message', async () => {
  const cases = [
    [['--kv-type', 'f16'], /float32 only/],
    [['--kv-memory', '1K'], /less than one DeepSeek-V4 sequence state/],
  ];
  for (const [args, message] of cases)
    await assert.rejects(startServer({ model: modelDir, args: ['--ctx-size', '256', ...args] }), message);
});
