// Chat and text completions through the official OpenAI client: whole and streamed,
// usage, stop strings, seeds, n, logprobs. The demo model has random weights, so the
// tests compare the server with itself (greedy is deterministic) rather than with text.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';

let server;
let client;
const model = 'demo-model';
const messages = [{ role: 'user', content: 'Say hello.' }];

before(async () => {
  server = await startServer({ args: ['--ctx-size', '256', '--max-batch', '4'] });
  client = server.client();
});

after(async () => {
  const { code } = await server.stop('SIGTERM');
  assert.equal(code, 0, 'SIGTERM ends the server with status 0');
});

async function streamText(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      role ??= choice.delta.role;
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
  }
  return { text, finish, usage, role };
}

test('GET /v1/models lists the served model', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), [model]);
});

test('chat completion: message, finish reason and usage', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 3);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, 'number');
  if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 12);
});

test('streamed chat equals the whole response (greedy)', async () => {
  const params = { model, messages, max_tokens: 16, temperature: 0 };
  const whole = await client.chat.completions.create(params);
  const streamed = await streamText(params);
  assert.equal(streamed.role, 'assistant');
  assert.equal(streamed.text, whole.choices[0].message.content);
  assert.equal(streamed.finish, whole.choices[0].finish_reason);
  assert.deepEqual(streamed.usage, whole.usage);
});

test('text completions, whole and streamed', async () => {
  const params = { model, prompt: 'The capital of France is', max_tokens: 10, temperature: 0 };
  const whole = await client.completions.create(params);
  assert.equal(whole.object, 'text_completion');
  assert.equal(typeof whole.choices[0].text, 'string');
  assert.ok(whole.usage.prompt_tokens >= 5);
  const stream = await client.completions.create({ ...params, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, whole.choices[0].finish_reason);
});

test('stop strings cut the reply before the stop string', async () => {
  const params = { model, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 };
  const full = (await client.completions.create(params)).choices[0].text;
  assert.ok(full.length >= 6, `reply too short to pick a stop string from: ${JSON.stringify(full)}`);
  const stop = [...full].slice(3, 5).join('');  // two characters from the middle, never half a character
  const expected = full.slice(0, full.indexOf(stop));
  for (const stream of [false, true]) {
    let text = '';
    let finish = null;
    if (stream) {
      for await (const chunk of await client.completions.create({ ...params, stop, stream })) {
        text += chunk.choices[0]?.text ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } else {
      const r = await client.completions.create({ ...params, stop: [stop, 'never appears'] });
      text = r.choices[0].text;
      finish = r.choices[0].finish_reason;
    }
    assert.equal(text, expected, `stream=${stream}`);
    assert.equal(finish, 'stop');
  }
});

test('the same seed gives the same sampled reply; n gives n choices', async () => {
  const params = { model, messages, max_tokens: 12, temperature: 1.0, top_p: 0.9, seed: 1234 };
  const a = await client.chat.completions.create(params);
  const b = await client.chat.completions.create(params);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const many = await client.chat.completions.create({ ...params, n: 3 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2]);
  // Choice 0 of n uses the request's seed, as a single choice does.
  assert.equal(many.choices[0].message.content, a.choices[0].message.content);
});

test('logprobs in the OpenAI shape', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens - (r.choices[0].finish_reason === 'stop' ? 1 : 0));
  for (const t of content) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 3);
    // Greedy picks the most likely token.
    assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4);
  }
  const c = await client.completions.create({ model, prompt: 'Hi', max_tokens: 3, temperature: 0, logprobs: 2 });
  const lp = c.choices[0].logprobs;
  assert.equal(lp.tokens.length, lp.token_logprobs.length);
  assert.equal(lp.top_logprobs.length, lp.tokens.length);
  assert.equal(lp.text_offset.length, lp.tokens.length);
});

test('GET /health and /metrics', async () => {
  const health = await fetch(`http://127.0.0.1:${server.port}/health`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(metrics, /dsinfer_http_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} \d+/);
  assert.match(metrics, /dsinfer_time_to_first_token_seconds_count [1-9]/);
  assert.match(metrics, /dsinfer_kv_blocks_free \d+/);
});

test('a named tool_choice makes the reply that tool call, whole and streamed', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const params = { model, messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 8, temperature: 0 };
  const r = await client.chat.completions.create(params);
  const calls = r.choices[0].message.tool_calls;
  assert.equal(calls.length, 1, JSON.stringify(r.choices[0].message));
  assert.equal(calls[0].type, 'function');
  assert.equal(calls[0].function.name, 'get_weather');
  assert.ok(['tool_calls', 'length'].includes(r.choices[0].finish_reason));
  // The forced opening is prompt, not completion: usage counts only generated tokens.
  assert.ok(r.usage.completion_tokens <= 8);

  const stream = await client.chat.completions.create({ ...params, stream: true });
  let name = '';
  let args = '';
  for await (const chunk of stream) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
  }
  assert.equal(name, 'get_weather');
  assert.equal(args, calls[0].function.arguments);
});
