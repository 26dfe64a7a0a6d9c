// Sign-in limits over real HTTP: batches, parallel guesses, separate back-offs for share links,
// Retry-After and held-back refusals, no-store, the hashing queue's 503, and what strangers can do to the owner's sign-in.
// Each test speaks from loopback addresses of its own (127.0.0.0/8 all reach the server), so the
// address back-off of one does not spill into the next.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TestClient, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';
import { REFUSAL_DELAY_MS } from './trpc-http';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let nook: TestNook;
let admin: TestClient;

/** One HTTP request sent from `from`, a loopback address. */
function send(from: string, method: string, pathname: string, body?: unknown): Promise<Answer> {
  const url = new URL(pathname, nook.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        headers: {
          origin: nook.url,
          ...(payload !== undefined && { 'content-type': 'application/json' }),
        },
      },
      (incoming) => {
        let text = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => (text += chunk));
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode!, headers: incoming.headers, body: text }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

const signIn = (from: string, password: string, username = ADMIN.username) =>
  send(from, 'POST', '/trpc/auth.login', { username, password });

const statuses = (answers: Answer[]) => answers.map((answer) => answer.status);

beforeAll(async () => {
  nook = await startTestNook({ workers: false });
  admin = await setUpAdmin(nook.url);
});

afterAll(async () => {
  await nook?.close();
});

describe('sign-in limits', () => {
  it('refuses a batch of 60 sign-ins, any batched auth call and any batch over 10 calls', async () => {
    const from = '127.0.1.1';
    const calls = Array.from({ length: 60 }, (_, i) =>
      i === 59
        ? { username: ADMIN.username, password: ADMIN.password }
        : { username: 'admin', password: `guess ${i}` },
    );
    const batch = await send(
      from,
      'POST',
      `/trpc/${calls.map(() => 'auth.login').join(',')}?batch=1`,
      Object.fromEntries(calls.map((call, i) => [i, call])),
    );
    expect(batch.status).toBe(400);
    // Answered as tRPC answers a batch, one error per call, so the dashboard's client can read it.
    expect(JSON.parse(batch.body)).toHaveLength(calls.length);
    expect(JSON.parse(batch.body)[0]).toMatchObject({
      error: { message: expect.stringContaining('10 calls'), data: { code: 'BAD_REQUEST', httpStatus: 400 } },
    });
    expect(batch.headers['set-cookie']).toBeUndefined();

    const pair = await send(from, 'POST', '/trpc/auth.login,auth.login?batch=1', {
      0: { username: 'admin', password: 'guess' },
      1: { username: ADMIN.username, password: ADMIN.password },
    });
    expect(pair.status).toBe(400);
    expect(JSON.parse(pair.body)[1]).toMatchObject({
      error: { message: expect.stringContaining('cannot be batched'), data: { path: 'auth.login' } },
    });
    expect(pair.headers['set-cookie']).toBeUndefined();
    // Percent-encoding the path does not hide the calls.
    const encoded = await send(
      from,
      'GET',
      `/trpc/auth.status%2Cauth.status?batch=1&input=${encodeURIComponent('{}')}`,
    );
    expect(encoded.status).toBe(400);

    const batchOf = (calls: number) =>
      `/trpc/${Array(calls).fill('assets.buckets').join(',')}?batch=1&input=${encodeURIComponent('{}')}`;
    const eleven = await send(from, 'GET', batchOf(11));
    expect(eleven.status).toBe(400);
    expect(JSON.parse(eleven.body)[10]).toMatchObject({
      error: { message: 'a batch may hold at most 10 calls', data: { code: 'BAD_REQUEST' } },
    });
    // Ten is allowed (and refused only for want of a session).
    expect((await send(from, 'GET', batchOf(10))).status).toBe(401);
  });

  it('locks after five parallel wrong sign-ins as after five in a row, the right password included', async () => {
    const from = '127.0.1.2';
    const guesses = Array.from({ length: 29 }, (_, i) => signIn(from, `guess ${i}`));
    // The five that were checked answer first (refusals are held back); the right password follows
    // while their delay runs.
    await new Promise<void>((resolve) => {
      let checked = 0;
      for (const guess of guesses)
        void guess.then((answer) => {
          if (answer.status === 401 && ++checked === 5) resolve();
        });
    });
    const asked = performance.now();
    // Encoded twice, the path still names auth.login to tRPC: refused and held just the same.
    const [right, disguised] = await Promise.all([
      signIn(from, ADMIN.password),
      send(from, 'POST', '/trpc/auth%252Elogin', { username: ADMIN.username, password: ADMIN.password }).then(
        (answer) => ({ ...answer, after: performance.now() - asked }),
      ),
    ]);
    // Held back a moment, so a script's connections cannot ask again at once.
    expect(performance.now() - asked).toBeGreaterThanOrEqual(REFUSAL_DELAY_MS - 50);
    expect(right.status).toBe(429);
    expect(disguised.status).toBe(429);
    expect(disguised.after).toBeGreaterThanOrEqual(REFUSAL_DELAY_MS - 50);
    expect(disguised.headers['set-cookie']).toBeUndefined();
    expect(right.headers['set-cookie']).toBeUndefined();
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(right.body)).toMatchObject({ error: { data: { code: 'TOO_MANY_REQUESTS' } } });
    const wrong = await Promise.all(guesses);
    expect(statuses(wrong).filter((status) => status === 401)).toHaveLength(5);
    expect(statuses(wrong).filter((status) => status === 429)).toHaveLength(24);

    // Thirty at once, the right one last: no more than five reach the password check.
    const elsewhere = '127.0.1.3';
    const rush = await Promise.all(
      Array.from({ length: 30 }, (_, i) => signIn(elsewhere, i === 29 ? ADMIN.password : `guess ${i}`)),
    );
    expect(statuses(rush).filter((status) => status !== 429).length).toBeLessThanOrEqual(5);
    expect(rush[29]!.status).toBe(429);
    expect(rush[29]!.headers['set-cookie']).toBeUndefined();
  });

  it('puts guesses at the current password, with a stolen session, under the same back-off', async () => {
    await admin.mutate('users.create', { username: 'carol', password: 'carol password 1' });
    const carol = new TestClient(nook.url);
    await carol.mutate('auth.login', { username: 'carol', password: 'carol password 1' });
    const guesses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        carol
          .mutate('auth.changePassword', { current: `guess ${i}`, next: 'a new long password' })
          .catch((error: { code: string }) => error.code),
      ),
    );
    expect(guesses.filter((code) => code === 'BAD_REQUEST')).toHaveLength(5);
    expect(guesses.filter((code) => code === 'TOO_MANY_REQUESTS')).toHaveLength(3);
  });

  it('keeps share-link unlocks and sign-ins on separate back-offs', async () => {
    const uploaded = await admin.upload([{ name: 'shared.jpg', data: await makeJpeg({ seed: '51a7e1' }) }]);
    const [asset] = (await uploaded.json()) as { id: string }[];
    const share = await admin.mutate<{ url: string }>('shares.create', {
      assetId: asset!.id,
      allowDownload: false,
      password: 'open sesame',
    });
    const unlock = (from: string, password: string) =>
      send(from, 'POST', `/api/shares/${share.url.split('/').pop()}/unlock`, { password });

    const guesser = '127.0.1.4';
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push((await unlock(guesser, `guess ${i}`)).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await signIn(guesser, ADMIN.password)).status).toBe(200);

    const typist = '127.0.1.5';
    for (let i = 0; i < 5; i++) await signIn(typist, `typo ${i}`);
    expect((await signIn(typist, ADMIN.password)).status).toBe(429);
    expect((await unlock(typist, 'open sesame')).status).toBe(204);
  });

  it('does not let strangers failing from many addresses keep the owner out from home, or for long elsewhere', async () => {
    const home = '127.0.2.1';
    expect((await signIn(home, ADMIN.password)).status).toBe(200);
    // Twenty failures from twenty addresses start the account-wide delay.
    for (let i = 0; i < 20; i++) await signIn(`127.0.3.${i + 1}`, `stranger ${i}`);

    // A new address waits (the account is under attack), and never longer than 5 minutes.
    const away = await signIn('127.0.2.2', ADMIN.password);
    expect(away.status).toBe(429);
    expect(Number(away.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(away.headers['retry-after'])).toBeLessThanOrEqual(5 * 60);
    // From where the owner signed in before, the strangers' failures change nothing.
    expect((await signIn(home, ADMIN.password)).status).toBe(200);
  });

  it('answers 503 with Retry-After when the password queue is full, and counts no failure for it', async () => {
    const flood = await Promise.all(
      ['127.0.4.1', '127.0.4.2'].flatMap((from) =>
        Array.from({ length: 20 }, (_, i) => signIn(from, 'whatever', `nobody-${from}-${i}`)),
      ),
    );
    const busy = flood.filter((answer) => answer.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(40 - 17);
    for (const answer of busy) {
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { data: { code: 'SERVICE_UNAVAILABLE' } } });
    }
    expect(statuses(flood).every((status) => status === 401 || status === 503)).toBe(true);
    // Refused before its password was checked, a sign-in is not a failure: the owner gets in.
    expect((await signIn('127.0.4.1', ADMIN.password)).status).toBe(200);
  });
});

describe('tRPC answers', () => {
  it('carry Cache-Control: no-store, answered by tRPC or by the memo, errors included', async () => {
    const path = `/trpc/assets.list?input=${encodeURIComponent(JSON.stringify({ limit: 5 }))}`;
    const first = await admin.fetch(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const second = await admin.fetch(path);
    expect(second.headers.get('x-nook-memo')).toBe('hit');
    expect(second.headers.get('cache-control')).toBe('no-store');

    const refused = await send('127.0.5.1', 'GET', path);
    expect(refused.status).toBe(401);
    expect(refused.headers['cache-control']).toBe('no-store');
  });
});
