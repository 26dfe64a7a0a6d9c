// Real work against an installed Nook: sign in, upload a photo, and wait until every asset the
// account should have (uploads and watched folders) is there with a thumbnail that loads. Run on the
// host, with the repository's sharp: node deploy/test/smoke.mjs <url> <user> <password> <assets>
import { randomInt } from 'node:crypto';
import sharp from 'sharp';

const [base, username, password, expected] = process.argv.slice(2);
if (!base || !username || !password || !expected) {
  console.error('usage: smoke.mjs <url> <user> <password> <expected assets>');
  process.exit(2);
}

const login = await fetch(`${base}/trpc/auth.login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', origin: base },
  body: JSON.stringify({ username, password }),
});
if (!login.ok) throw new Error(`sign-in answered ${login.status}: ${await login.text()}`);
const cookie = login.headers.getSetCookie()[0].split(';')[0];
const headers = { cookie, origin: base };

// A colour of its own, so a second run uploads a new photo rather than a duplicate.
const background = { r: randomInt(256), g: randomInt(256), b: randomInt(256) };
const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background } })
  .jpeg()
  .toBuffer();
const form = new FormData();
form.append('file', new Blob([photo], { type: 'image/jpeg' }), `smoke-${Date.now()}.jpg`);
const upload = await fetch(`${base}/api/assets`, { method: 'POST', headers, body: form });
if (upload.status !== 201) throw new Error(`upload answered ${upload.status}: ${await upload.text()}`);

const wanted = Number(expected);
const deadline = Date.now() + 180_000;
let seen = '';
for (;;) {
  const input = encodeURIComponent(JSON.stringify({ limit: 100 }));
  const list = await fetch(`${base}/trpc/assets.list?input=${input}`, { headers });
  const items = list.ok ? (await list.json()).result.data.items : [];
  let thumbnails = 0;
  for (const item of items) {
    if (item.thumbnailUrl && (await fetch(`${base}${item.thumbnailUrl}`, { headers })).ok) thumbnails++;
  }
  seen = `${items.length} assets, ${thumbnails} with thumbnails`;
  if (items.length === wanted && thumbnails === wanted) break;
  if (Date.now() > deadline)
    throw new Error(`expected ${wanted} assets with thumbnails; after 180 s: ${seen}`);
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
console.log(`ok: ${seen}`);
