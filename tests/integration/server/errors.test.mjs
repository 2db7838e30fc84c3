// Bad requests get OpenAI error objects with the right status, and the server keeps
// serving afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer } from './lib/server.mjs';

let server;
let client;
const model = 'demo-model';
const messages = [{ role: 'user', content: 'Hi' }];

before(async () => {
  server = await startServer({ args: ['--api-key', 'test-key', '--max-body-bytes', '65536', '--ctx-size', '64'] });
  client = server.client({ apiKey: 'test-key' });
});

after(async () => {
  const { code } = await server.stop('SIGINT');
  assert.equal(code, 0, 'SIGINT ends the server with status 0');
});

// Runs `call`, which must fail with `status`; returns the error body.
async function expectError(call, status, ErrorClass) {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `expected an APIError, got ${e}`);
    assert.equal(e.status, status, e.message);
    if (ErrorClass) assert.ok(e instanceof ErrorClass, `${e.constructor.name} is not ${ErrorClass.name}`);
    assert.equal(typeof e.error?.message, 'string');
    assert.ok('type' in e.error && 'param' in e.error && 'code' in e.error, JSON.stringify(e.error));
    return e.error;
  }
  assert.fail(`expected HTTP ${status}`);
}

test('401 without or with a wrong API key', async () => {
  for (const apiKey of ['wrong', 'Bearer test-key']) {
    const bad = server.client({ apiKey });
    await expectError(() => bad.chat.completions.create({ model, messages }), 401, OpenAI.AuthenticationError);
  }
  const raw = await fetch(`${server.baseURL}/models`);
  assert.equal(raw.status, 401);
});

test('400 for wrong types and out-of-range values, naming the field', async () => {
  const cases = [
    [{ temperature: 5 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ top_p: 0 }, 'top_p'],
    [{ max_tokens: -1 }, 'max_tokens'],
    [{ n: 0 }, 'n'],
    [{ stop: 7 }, 'stop'],
    [{ presence_penalty: 9 }, 'presence_penalty'],
    [{ logprobs: true, top_logprobs: 99 }, 'top_logprobs'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
  ];
  for (const [extra, param] of cases) {
    const error = await expectError(
      () => client.chat.completions.create({ model, messages, ...extra }), 400, OpenAI.BadRequestError);
    assert.equal(error.param, param, JSON.stringify(extra));
    assert.equal(error.type, 'invalid_request_error');
  }
  await expectError(() => client.completions.create({ model, prompt: 5 }), 400, OpenAI.BadRequestError);
});

test('404 model_not_found for an unknown model', async () => {
  const error = await expectError(() => client.chat.completions.create({ model: 'gpt-4o', messages }), 404,
                                  OpenAI.NotFoundError);
  assert.equal(error.code, 'model_not_found');
});

test('400 for a prompt that does not fit the context', async () => {
  const long = 'word '.repeat(200);
  const error = await expectError(
    () => client.chat.completions.create({ model, messages: [{ role: 'user', content: long }] }), 400);
  assert.match(error.message, /maximum context length is 64 tokens/);
});

test('413 for a body over the limit', async () => {
  const huge = 'x'.repeat(100_000);
  await expectError(() => client.chat.completions.create({ model, messages: [{ role: 'user', content: huge }] }), 413);
});

test('400 for a body that is not JSON', async () => {
  const res = await fetch(`${server.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: 'Bearer test-key', 'Content-Type': 'application/json' },
    body: '{"model": ',
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.type, 'invalid_request_error');
});

test('still serving after the errors', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 4 });
  assert.equal(r.choices.length, 1);
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(metrics, /status="401"/);
  assert.match(metrics, /status="413"/);
});
